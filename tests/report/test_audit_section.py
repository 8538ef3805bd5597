"""medaug.report.audit_section: the audit's markdown section (its content: tests/audit/test_run.py)."""

import pytest

from medaug.report.audit_section import audit_markdown


def test_audit_markdown_names_the_missing_table(tmp_path):
    with pytest.raises(FileNotFoundError, match="audit.tsv"):
        audit_markdown(tmp_path)
