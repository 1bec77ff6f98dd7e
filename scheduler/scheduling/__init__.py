"""Placement, pure: which offer takes which PENDING task, and why the others could not.

No I/O, no Mesos driver, no event loop, no clock (time and randomness are passed in); `scheduler.framework`
feeds it offers and tasks and applies what it decides. One concept per module:

  resources     ResourceBag, a task's demand, the executor overhead
  offers        HostOffer parsed from a Mesos v1 offer (OfferError), Aurora's offer order
  veto          Veto, VetoType, VetoGroup: Aurora's texts and scores
  constraints   value and limit constraints, dedicated hosts, AttributeAggregate
  filter        the scheduling filter: vetoes for (offer, task) in Aurora's order
  groups        TaskGroupKey: tasks with equal TaskConfigs schedule as one group
  nearest_fit   NearestFit: the closest veto set per group, getPendingReason's text
  assigner      place(): first fit of a batch of one group's tasks, ports picked
  backoff       per-group scheduling backoff, the attempts-per-second rate limiter
  preemption    the victims whose preemption makes room for a PENDING task on one agent
  bicache       BiCache: key -> value entries that expire, looked up by value too (slots, reservations)
"""
