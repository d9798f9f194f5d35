"""The phases of a task, one module each, in the order workflows/task.py runs them:
validate, plan_review, iterations (execute, gates and result_review, until the council
decides), approval, apply, finish."""
