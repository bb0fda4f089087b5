"""What a learner runs besides `course check`: watch, notebooks, pictures, progress."""
