"""Process logs: where a process's stdout and stderr go (policy), the rotating writer, the pump that copies a
child's pipes in its coordinator, and a follower that reads a log across rotations."""
