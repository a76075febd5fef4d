"""A worker on a phone finds the nearest station, books a counselling session, downloads
the .ics, and cancels it; the .ics of the cancellation updates the same event."""

from __future__ import annotations

from datetime import timedelta

import icalendar

from tests.booking.factories import add_counselor, add_station, seed_services
from tests.e2e.helpers import sign_in
from wellness.booking import services
from wellness.database import utcnow
from wellness.extensions import db

EVERY_DAY = range(7)


def make_stations(app, make_user):
    counselor = make_user("counselor", name="王静")
    with app.app_context():
        seed_services()
        north, _rooms = add_station("江北区职工心理服务中心", "江北区", 30.2905, 120.1380)
        far, _ = add_station("高新区软件园职工心理服务站", "高新区", 30.1880, 120.2020)
        add_counselor(
            counselor.id,
            [north, far],
            [(d, "09:00", "17:30", north, "work") for d in EVERY_DAY]
            + [(d, "12:00", "13:30", None, "break") for d in EVERY_DAY],
        )
        db.session.remove()
    return north


def test_worker_books_downloads_ics_and_cancels(
    app, live_server, phone_page, shot, make_user, tmp_path
):
    north = make_stations(app, make_user)
    user = make_user("worker", name="王伟")
    page = phone_page("en-US")
    page.context.grant_permissions(["geolocation"], origin=live_server.url)
    page.context.set_geolocation({"latitude": 30.2950, "longitude": 120.1400})
    sign_in(page, live_server.url, user, button="Sign in")

    # Stations near me: the browser's position sorts them by distance.
    page.goto(live_server.url + "/booking/")
    page.get_by_role("button", name="Use my location").click()
    page.wait_for_url("**/booking/?*lat=*")
    cards = page.locator("ul.tiles > li h2")
    assert cards.nth(0).inner_text() == "江北区职工心理服务中心"
    assert "km away" in page.locator("ul.tiles > li").nth(0).inner_text()
    shot(page, "booking-stations-en")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # Service and day: two days ahead, so notice and window never get in the way.
    day = services.local_today(utcnow()) + timedelta(days=2)
    page.locator("ul.tiles > li").nth(0).get_by_role("link", name="Book here").click()
    page.goto(
        f"{live_server.url}/booking/stations/{north}/slots?service=individual&date={day.isoformat()}"
    )
    assert "王静" in page.locator("main").inner_text()
    shot(page, "booking-slots-en")
    page.locator("section.card div.actions a.button").first.click()
    page.wait_for_url("**/booking/book?slot=*")
    assert "24 hours" in page.locator("main").inner_text()
    shot(page, "booking-confirm-en")
    page.get_by_role("button", name="Confirm booking").click()
    page.wait_for_url("**/booking/appointments/*")
    main = page.locator("main").inner_text()
    assert "Your appointment is booked." in main and "人民路1号" in main
    reference = page.locator("h1").inner_text().removeprefix("Appointment ").strip()
    assert len(reference) == 9
    shot(page, "booking-confirmation-en")

    # The .ics: a stable UID, Beijing times.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Add to calendar (.ics)").click()
    booked_path = tmp_path / "booked.ics"
    download_info.value.save_as(booked_path)
    booked = icalendar.Calendar.from_ical(booked_path.read_bytes())
    event = booked.walk("VEVENT")[0]
    assert event["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert event["DTSTART"].dt.date() == day and event["STATUS"] == "CONFIRMED"
    uid = str(event["UID"])

    # Cancel before the late-cancel window; the new .ics cancels the same event.
    page.fill("#reason", "临时加班")
    page.get_by_role("button", name="Cancel appointment").click()
    page.wait_for_url("**/booking/appointments/*")
    assert "Your appointment is cancelled." in page.locator("main").inner_text()
    assert page.locator(".badge").first.inner_text() == "Cancelled"
    shot(page, "booking-cancelled-en")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Remove from my calendar (.ics)").click()
    cancelled_path = tmp_path / "cancelled.ics"
    download_info.value.save_as(cancelled_path)
    cancelled = icalendar.Calendar.from_ical(cancelled_path.read_bytes())
    event = cancelled.walk("VEVENT")[0]
    assert str(event["UID"]) == uid and event["STATUS"] == "CANCELLED"
    assert int(event["SEQUENCE"]) == 1 and cancelled["METHOD"] == "CANCEL"

    page.goto(live_server.url + "/booking/appointments")
    assert reference in page.locator("main").inner_text()
    shot(page, "booking-my-appointments-en")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_worker_sees_the_booking_pages_in_chinese(app, live_server, phone_page, shot, make_user):
    north = make_stations(app, make_user)
    user = make_user("worker", name="李娜")
    page = phone_page("zh-CN")
    sign_in(page, live_server.url, user)
    page.goto(live_server.url + "/booking/?district=江北区")
    assert "江北区职工心理服务中心" in page.locator("main").inner_text()
    shot(page, "booking-stations-zh")
    day = services.local_today(utcnow()) + timedelta(days=2)
    page.goto(
        f"{live_server.url}/booking/stations/{north}/slots?service=individual&date={day.isoformat()}"
    )
    shot(page, "booking-slots-zh")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_counsellor_and_admin_pages_on_a_phone(app, live_server, phone_page, shot, make_user):
    """The counsellor's day with a booked client, and the admin's station page."""
    north = make_stations(app, make_user)
    member = make_user("worker", name="陈小雨")
    day = services.local_today(utcnow()) + timedelta(days=2)
    with app.app_context():
        from wellness.auth.models import User

        found = services.search_slots(north, "individual", day)
        services.book(db.session.get(User, member.id), found.slots[0].id)
        counselor_id = found.slots[0].counselor.id
        counselor = db.session.get(User, counselor_id)
        db.session.expunge(counselor)
        db.session.remove()
    page = phone_page("zh-CN")
    sign_in(page, live_server.url, counselor)
    page.goto(f"{live_server.url}/booking/schedule?date={day.isoformat()}")
    assert "陈小雨" in page.locator("main").inner_text()
    shot(page, "booking-counsellor-day-zh")
    page.get_by_role("link", name="陈小雨").click()
    page.wait_for_url("**/booking/schedule/appointments/*")
    shot(page, "booking-counsellor-appointment-zh")
    admin = make_user("admin", name="赵敏")
    page = phone_page("zh-CN")
    sign_in(page, live_server.url, admin)
    page.goto(f"{live_server.url}/booking/admin/stations/{north}")
    assert "咨询室一" in page.locator("main").inner_text()
    shot(page, "booking-admin-station-zh")
