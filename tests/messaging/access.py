from tests.authz import ADMIN, COUNSELOR, WORKER

W = frozenset({WORKER})
C = frozenset({COUNSELOR})
STAFF = frozenset({COUNSELOR, ADMIN})

ACCESS = {
    "messaging.my_conversations": W,
    "messaging.new_conversation": W,
    "messaging.thread": W,
    "messaging.reply": W,
    "messaging.rate": W,
    "messaging.inbox": STAFF,
    "messaging.staff_thread": C,
    "messaging.claim": C,
    "messaging.staff_reply": C,
    "messaging.close": C,
    "messaging.raise_flag": C,
    "messaging.transfer": STAFF,
    "api.list_conversations": W,
    "api.create_conversation": W,
    "api.rate_conversation": W,
    "api.get_conversation": frozenset({WORKER, COUNSELOR}),
    "api.post_message": frozenset({WORKER, COUNSELOR}),
    "api.conversation_inbox": C,
    "api.claim_conversation": C,
    "api.close_conversation": C,
}
