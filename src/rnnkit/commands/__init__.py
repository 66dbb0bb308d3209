"""Command-line front ends over ``rnnkit.tasks``: parse options, call the task, return results."""
