//! Widgets shared by every screen (table, form, dialog, reveal, toast, help).
