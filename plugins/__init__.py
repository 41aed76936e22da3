"""mgdn_edge.plugins"""
