package service

// IsMesh exposes isMesh to the external tests.
var IsMesh = isMesh
