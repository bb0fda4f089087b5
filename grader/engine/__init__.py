"""Grading: the check loop, results, one exercise and one submission."""
