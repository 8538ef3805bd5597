"""medaug.report.audit_section: the audit's markdown section (its content: tests/audit/test_run.py)."""

import pytest

from medaug.report.audit_section import load_audit


def test_load_audit_names_the_missing_table(tmp_path):
    with pytest.raises(FileNotFoundError, match="audit.tsv"):
        load_audit(tmp_path)
