"""mgdn_edge.runtimes"""
