"""The compose stack's Temporal server is tuned as the embedded dev server is."""

from __future__ import annotations

from pathlib import Path

import yaml

from agency import dev_server

CONFIG = Path(__file__).parents[2] / "deploy" / "temporal" / "dynamicconfig.yaml"


def test_the_dev_servers_tuning_is_in_the_compose_servers_dynamic_config() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    for key, value in dev_server.DYNAMIC_CONFIG.items():
        if key == "frontend.enableUpdateWorkflowExecution":
            continue  # on by default since Temporal server 1.25 (compose runs 1.30)
        assert [str(v["value"]).lower() for v in config[key]] == [value.lower()], key
