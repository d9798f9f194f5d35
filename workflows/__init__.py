"""The task workflow: deterministic code only, every side effect an activity.

- `task`: the workflow class; its `_govern` reads as the list of phases;
- `phases/`: one module per phase (validate, plan_review, iterations with execute,
  gates and result_review, approval, apply, finish);
- `state`: what the workflow knows of its task (the `state` query reads it);
- `interventions`: the signals, updates and validators humans act through;
- `recording`: entering a phase and recording a transition (numbered records);
- `judging`: the council's decisions and a human's override;
- `hosts`: claiming an executor host, losing one, controlling and discarding runs;
- `calls`: calling an activity through its typed reference (domain/activities.py);
- `failures`: how a task ends early, and what an activity's failure means;
- `activity_options`: every timeout and retry policy;
- `feedback`: what the agent is told before its next iteration.
"""
