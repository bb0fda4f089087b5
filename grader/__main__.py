from grader.cli import main

if __name__ == "__main__":  # not when a grading process of `--jobs` imports this module again
    main(prog_name="course")
