"""Provenance: signed, git-committed records of every task, their verification, and replay.

See docs/architecture.md, "Records and provenance". The pieces, one concept per module:
`canonical` (bytes that are signed), `keystore`/`file_keystore` (Ed25519 keys with a
kid), `signing` (compact JWS), `history` and `record` (what a record says, derived from
the Temporal history or the database alike), `gitrepo` (the provenance repository),
`verify` and `replay`.
"""
