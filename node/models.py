"""Every node model, imported in one place so the metadata is complete for migrations."""

from node.alerts.models import Alert, AlertDelivery, AlertSubscription
from node.bookings.models import Booking, Reminder, Slot
from node.cases.models import Case, CasePhoto, Event, ImportedRequest
from node.consultations.models import Consultation, ContactCheck, Participation, TallyCount
from node.database import Base
from node.intake.email.models import ArchivedMail
from node.intake.models import ClientApplication
from node.intake.sms.models import SmsDialogue
from node.messaging.models import InboundMessage, Notification, QuarantinedMessage, StaffAlert
from node.profiles.models import Citizen, CitizenSegment, Organisation, SegmentDefinition
from node.services.models import Service
from node.staff.models import Department, StaffUser
from node.sync.models import CountAdjustment, FederationLink, SyncPeriod
from node.usage.models import UsageCluster

__all__ = [
    "Alert",
    "AlertDelivery",
    "AlertSubscription",
    "ArchivedMail",
    "Base",
    "Booking",
    "Case",
    "CasePhoto",
    "Citizen",
    "CitizenSegment",
    "ClientApplication",
    "Consultation",
    "ContactCheck",
    "CountAdjustment",
    "Department",
    "Event",
    "FederationLink",
    "ImportedRequest",
    "InboundMessage",
    "Notification",
    "Organisation",
    "Participation",
    "QuarantinedMessage",
    "Reminder",
    "SegmentDefinition",
    "Service",
    "Slot",
    "SmsDialogue",
    "StaffAlert",
    "StaffUser",
    "SyncPeriod",
    "TallyCount",
    "UsageCluster",
]
