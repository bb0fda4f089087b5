"""What an instructor runs: class grading, gradebook, reports, release, exports."""
