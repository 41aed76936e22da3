"""mgdn_edge.tools"""
