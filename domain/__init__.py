"""The task's vocabulary, shared by every layer: what the API submits, the workflow keeps
and answers, the activities take and return, the database projects and provenance signs.

Why a top-level package of its own: these types used to live beside the workflow
(`workflows/models.py`), so the database, provenance and the API imported the workflow's
package to speak about a task. Here they belong to no process. The package is pure data:
pydantic models, literals and constants, no I/O, and it imports nothing of ours except
the council's pure models (the task spec and the verdicts). Every other layer may import
it; tests/test_layers.py holds it to that.

One concept per module:

- `phases`: the phases of a task and which of them end it;
- `task`: the workflow's name, its input and result, and the state its query answers;
- `execution`: executor hosts and what the workflow keeps of one execution;
- `interventions`: what a human sends a running task, and the answer;
- `audit`: one recorded transition (task event, audit entry, projection update);
- `activities`: every activity's input and output, and its typed reference (name and
  types), which both its definition and the workflow's call use;
- `errors`: the failure types activities raise that the workflow's retry policies know;
- `search_attributes`: the custom search attributes a task workflow carries (typed keys,
  plain data from temporalio.common) and their values at start;
- `summaries`: the static summary and details the Temporal UI shows of a task.
"""
