"""Stable rule ids, as the CAWS kernel names them, plus our own under `agency.`.

The `spec.*` and `waiver.*` ids are the CAWS kernel's public contract
(packages/caws-cli/src/kernel/{spec,waiver}/rules.ts and spec/migrate-v10.ts): a person
who knows CAWS, or a tool that greps for them, finds the same id here. Rules CAWS does
not have (what we add to read real-world files, or need to run a task) are `agency.*`.
"""

from __future__ import annotations


class SpecRules:
    # parse layer
    YAML_PARSE_FAILED = "spec.yaml.parse_failed"
    EMPTY_DOCUMENT = "spec.yaml.empty_document"
    NOT_AN_OBJECT = "spec.yaml.not_an_object"
    # schema layer
    SCHEMA_VIOLATION = "spec.schema.violation"
    FORBIDDEN_CHANGE_BUDGET = "spec.schema.forbidden_field.change_budget"
    FORBIDDEN_ACCEPTANCE_CRITERIA = "spec.schema.forbidden_field.acceptance_criteria"
    FORBIDDEN_SCOPE_INCLUDE = "spec.schema.forbidden_field.scope_include"
    FORBIDDEN_SCOPE_EXCLUDE = "spec.schema.forbidden_field.scope_exclude"
    FORBIDDEN_STATUS = "spec.schema.forbidden_field.status"
    MODE_DEVELOPMENT_REMOVED = "spec.schema.mode.development_removed"
    RISK_TIER_TYPE_REJECTED = "spec.schema.risk_tier.type_rejected"
    RISK_TIER_OUT_OF_RANGE = "spec.schema.risk_tier.out_of_range"
    SCOPE_IN_EMPTY = "spec.schema.scope.in_empty"
    SCOPE_OUT_GLOB_FORBIDDEN = "spec.schema.scope.out_glob_forbidden"
    ID_PATTERN_VIOLATION = "spec.schema.id.pattern_violation"
    # semantic layer
    TIER1_CONTRACTS = "spec.semantic.tier1.contracts_required"
    TIER2_CONTRACTS = "spec.semantic.tier2.contracts_required"
    TIER1_OBSERVABILITY = "spec.semantic.tier1.observability_required"
    TIER1_ROLLBACK = "spec.semantic.tier1.rollback_required"
    TIER1_SECURITY = "spec.semantic.tier1.security_required"
    EXPERIMENTAL_TIER = "spec.semantic.experimental_mode.tier_restricted"
    RESOLUTION_REQUIRES_CLOSURE = "spec.semantic.resolution.requires_closure"
    CLOSED_NEEDS_RESOLUTION = "spec.semantic.closed.resolution_required"
    SUPERSEDES_SELF = "spec.semantic.supersedes.self_reference"
    SUCCESSOR_DECLINED_RATIONALE = "spec.semantic.successor.declined_rationale_required"
    SUCCESSOR_ABSORBED_BY = "spec.semantic.successor.absorbed_by_required"
    SUCCESSOR_RATIONALE_EMPTY = "spec.semantic.successor.rationale_empty"
    SUCCESSOR_DUPLICATE = "spec.semantic.successor.duplicate_target"
    SUCCESSOR_SELF = "spec.semantic.successor.self_reference"
    SUCCESSOR_ABSORBED_BY_SELF = "spec.semantic.successor.absorbed_by_self_reference"
    SUCCESSOR_ABSORBED_BY_TARGET = "spec.semantic.successor.absorbed_by_equals_target"
    SCOPE_OVERBROAD_OUT = "spec.semantic.scope.overbroad_out"
    EVIDENCE_WAIVER_REASON = "spec.semantic.evidence.waiver_reason_required"
    EVIDENCE_CRITERION_UNKNOWN = "spec.semantic.evidence.criterion_id_unknown"


class MigrateRules:
    # refusals
    NOT_AN_OBJECT = "spec.migrate.input_not_an_object"
    MISSING_ID = "spec.migrate.missing_id"
    MISSING_TITLE = "spec.migrate.missing_title"
    BLAST_RADIUS_MODULES_EMPTY = "spec.migrate.blast_radius_modules_empty"
    BLAST_RADIUS_MODULES_MISSING = "spec.migrate.blast_radius_modules_missing"
    LIFECYCLE_UNMAPPED = "spec.migrate.lifecycle_unmapped"
    RISK_TIER_UNRESOLVABLE = "spec.migrate.risk_tier_unresolvable"
    MODE_UNRESOLVABLE = "spec.migrate.mode_unresolvable"
    SCOPE_IN_MISSING = "spec.migrate.scope_in_missing"
    # warnings: each mapping step
    SAFE_RENAME = "spec.migrate.safe_rename"
    NF_SUBKEY_RENAME = "spec.migrate.non_functional_subkey_rename"
    RISK_TIER_COERCED = "spec.migrate.risk_tier_coerced"
    CREATED_AT_COERCED = "spec.migrate.created_at_coerced"
    MODE_FROM_TYPE = "spec.migrate.mode_overridden_from_type"
    MODE_TYPE_DISAGREEMENT = "spec.migrate.mode_type_disagreement"
    UNHANDLED_FIELD_PRESERVED = "spec.migrate.unhandled_field_preserved"


class WaiverRules:
    INVALID_ID = "waiver.schema.invalid_id"
    INVALID_STATUS = "waiver.schema.invalid_status"
    INVALID_GATES = "waiver.schema.invalid_gates"
    INVALID_EXPIRY = "waiver.schema.invalid_expiry"
    INVALID_TITLE = "waiver.schema.invalid_title"
    INVALID_REASON = "waiver.schema.invalid_reason"
    INVALID_APPROVED_BY = "waiver.schema.invalid_approved_by"
    INVALID_CREATED_AT = "waiver.schema.invalid_created_at"
    REVOKED_WITHOUT_RECORD = "waiver.schema.revoked_without_revocation_record"
    ACTIVE_WITH_REVOCATION = "waiver.schema.active_status_carries_revocation_record"


class AgencyRules:
    """Ours: what CAWS has no rule for, each said so in its message."""

    # reading v10 specs beyond what the CAWS migration covers
    ACCEPTANCE_ID_ASSIGNED = "agency.migrate.acceptance_id_assigned"
    ACCEPTANCE_TEXT_ITEM = "agency.migrate.acceptance_text_item"
    CHANGE_BUDGET_KEPT = "agency.migrate.change_budget_kept"
    V11_RULE_AFTER_MIGRATION = "agency.migrate.v11_rule_not_met"
    WAIVERS_LIST = "agency.migrate.waivers_list"
    # specs
    NOT_A_SPEC = "agency.spec.not_a_working_spec"
    SPEC_CLOSED = "agency.spec.lifecycle_closed"
    # scope entries a change cannot be checked against
    SCOPE_PROSE = "agency.scope.prose_entry"
    SCOPE_PATH_MISSING = "agency.scope.path_not_found"
    SCOPE_IN_NO_PATH = "agency.scope.in_names_no_path"
    # waiver files
    WAIVER_V10_FORMAT = "agency.waiver.v10_format"
    WAIVER_V10_INVALID = "agency.waiver.v10_invalid"
    WAIVER_UNREADABLE = "agency.waiver.unreadable"
    WAIVER_DUPLICATE_ID = "agency.waiver.duplicate_id"
    WAIVER_CITED_INVALID = "agency.waiver.cited_invalid"
    # policy
    POLICY_DEFAULTS = "agency.policy.defaults"
    POLICY_LEGACY_TIER_POLICY = "agency.policy.legacy_tier_policy"
    POLICY_INVALID = "agency.policy.invalid"
    # more warnings than a task stores
    WARNINGS_TRUNCATED = "agency.warnings.truncated"
