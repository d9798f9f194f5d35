"""What every judge sees: the spec, the policy, the known waivers, the evidence, and `now`."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from council.models import Evidence, Stage
from council.policy import Budget, Policy
from council.spec import TaskSpec
from council.waivers import Waiver, effective_budget, waiver_problems


class JudgeContext(BaseModel):
    spec: TaskSpec
    policy: Policy
    # Waivers known to the caller (e.g. the repository's .caws/waivers/), keyed by id.
    # Only those the spec names in waiver_ids apply.
    waivers: dict[str, Waiver] = Field(default_factory=dict)
    evidence: Evidence
    # Passed in by the caller (workflow.now() in a workflow): judges have no clock.
    now: datetime

    @property
    def stage(self) -> Stage:
        return self.evidence.stage

    def waiver_problems(self, waiver: Waiver) -> list[str]:
        return waiver_problems(
            waiver,
            now=self.now,
            policy=self.policy,
            spec_id=self.spec.id,
            risk_tier=self.spec.risk_tier,
        )

    def named_waivers(self) -> list[Waiver]:
        """The known waivers the spec names, in the spec's order."""
        return [self.waivers[w] for w in self.spec.waiver_ids if w in self.waivers]

    def usable_waivers(self) -> list[Waiver]:
        return [w for w in self.named_waivers() if not self.waiver_problems(w)]

    def base_budget(self) -> Budget:
        """The policy's tier budget, tightened by the spec's own change_budget (v10)."""
        tier = self.policy.budget(self.spec.risk_tier)
        own = self.spec.change_budget
        if own is None:
            return tier
        return Budget(
            max_files=min(tier.max_files, own.max_files), max_loc=min(tier.max_loc, own.max_loc)
        )

    def effective_budget(self) -> Budget:
        raised = effective_budget(
            self.policy,
            self.spec.risk_tier,
            self.named_waivers(),
            now=self.now,
            spec_id=self.spec.id,
        )
        # Waiver deltas raise the (possibly tightened) base budget.
        tier, base = self.policy.budget(self.spec.risk_tier), self.base_budget()
        return Budget(
            max_files=raised.max_files - tier.max_files + base.max_files,
            max_loc=raised.max_loc - tier.max_loc + base.max_loc,
        )
