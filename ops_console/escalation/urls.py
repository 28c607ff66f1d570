from django.urls import path

from . import views

app_name = "escalation"
urlpatterns = [
    path("oncall/", views.oncall, name="oncall"),
    path("oncall/<slug:role>/", views.rotation, name="rotation"),
    path("oncall/<slug:role>/overrides", views.add_override, name="add_override"),
    path("oncall/<slug:role>/overrides/<int:pk>/delete", views.remove_override, name="remove_override"),
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
]
