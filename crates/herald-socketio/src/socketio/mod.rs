//! Socket.IO v5 packets (the default parser of socket.io 4).
