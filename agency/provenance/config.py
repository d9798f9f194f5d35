"""Which keystore and which provenance repository the settings name."""

from __future__ import annotations

from agency.provenance.file_keystore import FileKeystore
from agency.provenance.gitrepo import ProvenanceRepo
from agency.provenance.keystore import Keystore
from agency.settings import Settings


def keystore_for(settings: Settings) -> Keystore:
    # One implementation today; an OS keyring or a KMS would be another branch here.
    if settings.keystore == "file":
        return FileKeystore(settings.effective_signing_keys_dir)
    raise ValueError(f"unknown keystore {settings.keystore!r}")


def provenance_repo_for(settings: Settings) -> ProvenanceRepo:
    return ProvenanceRepo(settings.effective_provenance_repo)
