"""Who may reach each booking URL (merged into tests/authz.py's table)."""

from tests.authz import ADMIN, COUNSELOR, EVERYONE, SIGNED_IN, WORKER

W = frozenset({WORKER})
C = frozenset({COUNSELOR})
A = frozenset({ADMIN})
STAFF = frozenset({COUNSELOR, ADMIN})

ACCESS = {
    # members
    "booking.list_stations": W,
    "booking.station": W,
    "booking.slots": W,
    "booking.confirm": W,
    "booking.my_appointments": W,
    "booking.appointment": W,
    "booking.appointment_ics": W,
    "booking.cancel": W,
    "booking.reschedule": W,
    "booking.accept_offer": W,
    "booking.decline_offer": W,
    "booking.join_waitlist": W,
    "booking.leave_waitlist": W,
    "booking.group_session": W,
    # counsellors (and admins where they act on everyone's records)
    "booking.counselor_schedule": C,
    "booking.schedule_appointment": STAFF,
    "booking.mark_attendance": STAFF,
    "booking.add_note": C,
    "booking.staff_cancel": STAFF,
    "booking.follow_up": C,
    "booking.group_roster": STAFF,
    "booking.my_availability": C,
    "booking.availability": STAFF,
    "booking.add_rule": STAFF,
    "booking.add_exception": STAFF,
    "booking.add_time_off": STAFF,
    "booking.delete_availability": STAFF,
    "booking.my_profile": C,
    "booking.profile": STAFF,
    "booking.calendar_feed": C,
    "booking.feed": EVERYONE,  # the secret token is the credential
    # admins
    "booking.manage_stations": A,
    "booking.edit_station": A,
    "booking.add_room": A,
    "booking.edit_room": A,
    "booking.add_hours": A,
    "booking.delete_hours": A,
    "booking.add_closure": A,
    "booking.delete_closure": A,
    "booking.station_desk": A,
    "booking.manage_services": A,
    "booking.edit_service": A,
    "booking.manage_counselors": A,
    "booking.counselor_stations": A,
    "booking.manage_group_sessions": A,
    "booking.cancel_group_session": A,
    # JSON API
    "api.list_stations": SIGNED_IN,
    "api.list_services": SIGNED_IN,
    "api.list_slots": SIGNED_IN,
    "api.create_appointment": W,
    "api.list_appointments": W,
    "api.get_appointment": W,
    "api.cancel_appointment": W,
}
