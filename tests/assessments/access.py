from tests.authz import SIGNED_IN, WORKER

W = frozenset({WORKER})

ACCESS = {
    "assessments.list_instruments": W,
    "assessments.take": W,
    "assessments.view_result": W,
    "assessments.history": W,
    "assessments.history_chart": W,
    "assessments.export_fhir": W,
    "assessments.export_csv": W,
    "api.list_instruments": SIGNED_IN,
    "api.get_instrument": SIGNED_IN,
    "api.submit": W,
    "api.list_assessments": W,
    "api.get_assessment": W,
}
