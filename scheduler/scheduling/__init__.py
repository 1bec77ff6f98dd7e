"""Room for placement, pure: resources, constraints, offer matching, pending reasons, preemption. No I/O, no
Mesos driver, no clock (time is passed in); `framework` feeds it offers and applies what it decides."""
