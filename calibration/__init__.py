"""mgdn_edge.calibration"""
