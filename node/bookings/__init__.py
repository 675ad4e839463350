"""Appointment booking: offices publish slots, citizens book, move or cancel them, reminders go
out before the slot and staff record attended or no-show."""
