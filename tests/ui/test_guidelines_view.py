"""The versions table: one type a column, so Arrow takes it as it is."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from moodlab.ui import guidelines_view
from moodlab.votes.guidelines import VersionUse


def test_the_versions_table_with_unversioned_votes_is_one_type_a_column():
    """Issue 29: ints and "none" in one column made Streamlit log an Arrow traceback
    (and convert the table again) on every rerun of the Agreement page."""
    uses = [
        VersionUse(2, None, "lena", "", (), 5, 1, 4, 3),
        VersionUse(0, None, None, "before", (), 7, 0, 6, 5),
    ]
    rows = guidelines_view.versions_rows(uses)
    assert [r["version"] for r in rows] == ["2", "none"]
    pa.Table.from_pandas(pd.DataFrame(rows))  # no ArrowInvalid
    # Without the unversioned row the versions stay numbers (they sort as numbers).
    assert [r["version"] for r in guidelines_view.versions_rows(uses[:1])] == [2]
