package redisstore

// ClientOptionFor exposes clientOption to the tests.
var ClientOptionFor = clientOption
