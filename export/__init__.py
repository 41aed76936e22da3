"""mgdn_edge.export"""
