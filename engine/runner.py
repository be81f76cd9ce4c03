"""placeholder until the background runner lands"""
