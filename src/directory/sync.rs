//! `hubdeck directory sync`: refreshes the `directory_user` read cache from the directory.
