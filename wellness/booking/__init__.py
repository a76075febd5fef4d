"""Stations, rooms, services, counsellors' availability, slots, appointments, group
sessions, waitlists, reminders and iCalendar files.

Slots are computed on demand from the weekly templates (minus breaks, exceptions, time
off, closures and taken cells) and re-validated when booked; the database guarantees that
nothing overlaps (see ``models.BookingCell``).
"""
