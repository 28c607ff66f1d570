from django.urls import path

from . import contact_views, rotation_views, views

app_name = "escalation"
urlpatterns = [
    path("oncall/", views.oncall, name="oncall"),
    path("oncall/<slug:role>/", views.rotation, name="rotation"),
    path("oncall/<slug:role>/calendar/", rotation_views.calendar, name="rotation_calendar"),
    path("oncall/<slug:role>/take", rotation_views.take_shift, name="take_shift"),
    path("oncall/<slug:role>/swap", rotation_views.swap, name="swap_shifts"),
    path("oncall/<slug:role>/overrides", rotation_views.add_override, name="add_override"),
    path("oncall/<slug:role>/overrides/<int:pk>/delete", rotation_views.delete_override, name="remove_override"),
    path("escalation/", views.policies, name="policies"),
    path("escalation/new", views.new_policy, name="new_policy"),
    path("escalation/<int:pk>/", views.policy, name="policy"),
    path("escalation/<int:pk>/edit", views.edit_policy, name="edit_policy"),
    path("maintenance/", views.maintenance, name="maintenance"),
    path("maintenance/new", views.new_window, name="new_window"),
    path("maintenance/new-recurring", views.new_recurring_window, name="new_recurring_window"),
    path("maintenance/<int:pk>/end", views.end_window, name="end_window"),
    path("pages/", views.my_pages, name="pages"),
    path("pages/<int:pk>/ack", views.acknowledge_page, name="acknowledge_page"),
    path("ack/<str:token>", views.acknowledge_link, name="ack"),
    path("contact/", contact_views.contact_methods, name="contact_methods"),
    path("contact/new", contact_views.add_contact_method, name="add_contact_method"),
    path("contact/<int:pk>/edit", contact_views.change_contact_method, name="change_contact_method"),
    path("contact/<int:pk>/move", contact_views.move_contact_method, name="move_contact_method"),
    path("contact/<int:pk>/delete", contact_views.delete_contact_method, name="delete_contact_method"),
    path("incidents/<str:reference>/deliveries", contact_views.incident_deliveries, name="incident_deliveries"),
]
