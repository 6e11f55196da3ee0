// Package config is the BFF's configuration: the [Config] type whose YAML
// keys are the contract of DESIGN.md, [Load] (one YAML file, BFF_*
// environment variables, *_file secrets, defaults filled in once by
// [Config.SetDefaults]), [Config.Validate] reporting every problem at once
// as *[Error] values that never quote a secret, [Problems] to merge them,
// [Config.Redacted] for logs and [Config.Audit] for start-up warnings.
//
// It holds input only and does no network I/O. It must not import any
// other package of this module: every other package is configured from it
// by bff.New, never the other way round.
package config
