"""``domain.copy_rows.insert_rows`` on PostgreSQL: what the copy write-back inserts
without building tortoise models (positions, exit legs, paper accounts).

Rows read back equal what a model would have stored: the fields' defaults fill what is
not given, auto_now timestamps are set, enums and JSON are converted; a conflict is
skipped only when asked; a missing required field raises and writes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tortoise.exceptions import IntegrityError

from domain.copy_rows import insert_rows
from domain.models import PaperAccount, User


async def test_defaults_and_auto_now_fill_what_is_not_given(clean_db) -> None:  # noqa: ANN001
    before = datetime.now(UTC)
    await insert_rows(User, [{"name": "ann"}, {"name": "bob", "telegram_chat_id": 7}])

    rows = await User.filter(name__in=["ann", "bob"]).order_by("name")
    assert [(u.name, u.role.value, u.telegram_reachable, u.telegram_chat_id) for u in rows] \
        == [("ann", "user", True, None), ("bob", "user", True, 7)]
    assert all(u.created_at >= before for u in rows)


async def test_conflicts_are_skipped_only_when_asked(clean_db) -> None:  # noqa: ANN001
    user = await User.create(name="carl")
    await insert_rows(PaperAccount, [{"user_id": user.id}])

    await insert_rows(PaperAccount, [{"user_id": user.id}], ignore_conflicts=True)
    with pytest.raises(IntegrityError):
        await insert_rows(PaperAccount, [{"user_id": user.id}])
    assert await PaperAccount.filter(user_id=user.id).count() == 1


async def test_a_missing_required_field_raises_and_writes_nothing(clean_db) -> None:  # noqa: ANN001
    with pytest.raises(KeyError, match="users.name needs a value"):
        await insert_rows(User, [{"name": "dora"}, {"telegram_chat_id": 8}])

    assert await User.all().count() == 0
