"""Back-office sign-in and password forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length


class StaffLoginForm(FlaskForm):
    """Sign in with the staff e-mail and password."""

    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=320)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


class ChangePasswordForm(FlaskForm):
    """Replace the current password, e.g. the one-time password given at creation."""

    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=10)])
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new", message=_l("The two passwords differ."))],
    )


class ResetRequestForm(FlaskForm):
    """Ask for a link to choose a new password."""

    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=320)])


class NewPasswordForm(FlaskForm):
    """Choose a new password from a reset link."""

    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=10)])
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new", message=_l("The two passwords differ."))],
    )


class ActionForm(FlaskForm):
    """The CSRF token of the staff management page's buttons."""
