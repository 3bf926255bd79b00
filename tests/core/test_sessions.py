"""Browser sessions (moodlab/core/sessions.py): tickets, tokens, expiry, revocation."""

from datetime import timedelta

from sqlalchemy import select

from moodlab.core import auth, sessions
from moodlab.core.models import UserSession
from moodlab.core.timeutil import utcnow


def test_a_ticket_is_exchanged_once_for_a_token_stored_only_as_its_hash(database, annotator):
    with database.session() as session:
        session_id, ticket = sessions.start(session=session, actor=annotator)
    with database.session() as session:
        token = sessions.redeem_ticket(session=session, ticket=ticket)
        assert token and len(token) >= 40
        assert sessions.redeem_ticket(session=session, ticket=ticket) is None, "only once"
    with database.session() as session:
        row = session.get(UserSession, session_id)
        assert row.token_sha256 == sessions.digest(token) and row.ticket_sha256 is None
        stored = " ".join(str(v) for v in session.execute(select(UserSession.__table__)).one())
        assert token not in stored and ticket not in stored


def test_a_late_ticket_is_refused(database, annotator):
    with database.session() as session:
        _, ticket = sessions.start(session=session, actor=annotator)
    later = utcnow() + sessions.TICKET_LIFETIME + timedelta(seconds=1)
    with database.session() as session:
        assert sessions.redeem_ticket(session=session, ticket=ticket, now=later) is None


def test_a_token_resumes_the_session_until_it_is_idle_too_long(database, settings, annotator):
    start = utcnow()
    with database.session() as session:
        session_id, ticket = sessions.start(session=session, actor=annotator, now=start)
        token = sessions.redeem_ticket(session=session, ticket=ticket, now=start)
    idle = timedelta(minutes=settings.session_idle_minutes)
    with database.session() as session:
        resumed = sessions.resume(
            session=session, settings=settings, token=token, now=start + idle - timedelta(minutes=1)
        )
        assert resumed.actor.name == "anna" and resumed.session_id == session_id
    # That visit counted: the idle clock started again from it.
    with database.session() as session:
        resumed = sessions.resume(
            session=session,
            settings=settings,
            token=token,
            now=start + 2 * idle - timedelta(minutes=2),
        )
        assert resumed.actor is not None
    with database.session() as session:
        gone = sessions.resume(
            session=session, settings=settings, token=token, now=start + 4 * idle
        )
        assert gone.actor is None and gone.reason == "expired"
    with database.session() as session:
        assert session.get(UserSession, session_id) is None


def test_wrong_tokens_logout_and_deactivation_open_nothing(database, settings, lead, annotator):
    with database.session() as session:
        session_id, ticket = sessions.start(session=session, actor=annotator)
        token = sessions.redeem_ticket(session=session, ticket=ticket)
    with database.session() as session:
        assert sessions.resume(session=session, settings=settings, token="x" * 43).actor is None
        assert sessions.resume(session=session, settings=settings, token=ticket).actor is None
        sessions.end(session=session, token=token)
    with database.session() as session:
        assert sessions.resume(session=session, settings=settings, token=token).reason == "ended"
        sid, _ = sessions.start(session=session, actor=annotator)
        auth.set_active(session=session, actor=lead, name="anna", active=False)
    with database.session() as session:
        assert sessions.resume(session=session, settings=settings, session_id=sid).actor is None
