//! One state struct per screen.
