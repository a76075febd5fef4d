"""The A/B baseline for bench/booking_throughput.py: a bare Flask app on the same machine.

- GET /page: one primary-key SELECT (Flask-SQLAlchemy) and a small Jinja page (a layout
  and a 10-row table): the "typical page" of ../shared/reference/performance.md.
- POST /write: INSERT one row and commit (SQLite in WAL mode): the "write ceiling".

Served by gunicorn: ``gunicorn -w 2 'bench.booking_baseline:create_app()'`` with
BASELINE_DATABASE_URL pointing at a SQLite file.
"""

from __future__ import annotations

import os

from flask import Flask, render_template
from flask_sqlalchemy import SQLAlchemy
from jinja2 import DictLoader
from sqlalchemy import String, event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(String(200))


PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{ item.name }}</title>
<link rel="stylesheet" href="/static/app.css"></head>
<body><header><nav><a href="/">Home</a> <a href="/page">Page</a></nav></header>
<main><h1>{{ item.name }}</h1>
<table><thead><tr><th>#</th><th>Name</th><th>Value</th></tr></thead><tbody>
{% for row in rows %}<tr><td>{{ row }}</td><td>{{ item.name }} {{ row }}</td>
<td>{{ row * 7 }}</td></tr>{% endfor %}</tbody></table></main>
<footer>Need help now? 12356</footer></body></html>"""


def create_app() -> Flask:
    app = Flask(__name__)
    app.jinja_loader = DictLoader({"page.html": PAGE})  # compiled once, cached like a file
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["BASELINE_DATABASE_URL"]
    db.init_app(app)
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @app.get("/page")
    def page():
        item = db.session.get(Item, 1)
        return render_template("page.html", item=item, rows=range(10))

    @app.post("/write")
    def write():
        db.session.add(Note(body="note"))
        db.session.commit()
        return "ok"

    return app


def seed(url: str) -> None:
    os.environ["BASELINE_DATABASE_URL"] = url
    app = create_app()
    with app.app_context():
        db.create_all()
        if db.session.get(Item, 1) is None:
            db.session.add(Item(id=1, name="职工心理服务站"))
            db.session.commit()
