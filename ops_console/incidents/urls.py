from django.urls import path, re_path

from . import intake_views, views

app_name = "incidents"
INCIDENT = r"^(?P<reference>INC-\d+)/"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.new, name="new"),
    path("tokens/", intake_views.tokens, name="tokens"),
    path("tokens/<int:pk>/revoke", intake_views.revoke_token, name="revoke_token"),
    path("routing/", intake_views.routing, name="routing"),
    path("payloads/", intake_views.payloads, name="payloads"),
    path("payloads/<int:pk>/", intake_views.payload, name="payload"),
    path("payloads/<int:pk>/apply-again", intake_views.apply_again, name="payload_apply_again"),
    re_path(INCIDENT + r"$", views.detail, name="detail"),
    re_path(INCIDENT + r"live$", views.timeline, name="live"),
    re_path(INCIDENT + r"acknowledge$", views.acknowledge, name="acknowledge"),
    re_path(INCIDENT + r"status$", views.change_status, name="status"),
    re_path(INCIDENT + r"severity$", views.change_severity, name="severity"),
    re_path(INCIDENT + r"commander$", views.set_commander, name="commander"),
    re_path(INCIDENT + r"responders$", views.add_responder, name="responders"),
    re_path(INCIDENT + r"details$", views.update_details, name="details"),
    re_path(INCIDENT + r"notes$", views.add_note, name="notes"),
]
