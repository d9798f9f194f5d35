"""CAWS files read as the CAWS kernel reads them: working specs (v11 checked, v10
migrated), waiver files, policies. Pure: callers pass parsed data (agency.caws_yaml
parses YAML as CAWS does).

`caws_governance` / `merge_caws_spec` make a spec the governance half of a task.
"""

from council.caws.governance import EXECUTION_FIELDS, caws_governance, merge_caws_spec
from council.caws.migrate import detect_spec_version, migrate_v10
from council.caws.rules import AgencyRules, MigrateRules, SpecRules, WaiverRules
from council.caws.scope_check import RepoTree, scope_findings
from council.caws.specs import SpecReading, read_spec

__all__ = [
    "EXECUTION_FIELDS",
    "AgencyRules",
    "MigrateRules",
    "RepoTree",
    "SpecReading",
    "SpecRules",
    "WaiverRules",
    "caws_governance",
    "detect_spec_version",
    "merge_caws_spec",
    "migrate_v10",
    "read_spec",
    "scope_findings",
]
