"""Honest traffic: routine spending, profile events and empirical (fitted) traffic."""
