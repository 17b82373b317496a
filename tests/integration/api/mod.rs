//! API tests over real HTTP, arranged like the URL tree.

mod actions;
mod image_data;
mod members;
mod tags;
