package session

// bundleDict1 is the DEFLATE preset dictionary of bundle method 1: the
// JSON that JWT headers and claims are made of, so that even a session's
// first token compresses. It is part of the stored format: never change
// it; a better one is a new method number.
var bundleDict1 = []byte(`{"alg":"RS256","typ":"JWT"}{"alg":"ES256","typ":"at+jwt","kid":"` +
	`{"alg":"PS256","typ":"JWT","kid":"{"alg":"EdDSA","kid":"` +
	`"x5t#S256":"","x5t":"","jku":"https://","cty":"JWT","enc":"A256GCM","zip":"DEF"` +
	`"https://login.microsoftonline.com/","https://accounts.google.com","/realms/","/oauth2/default","/v2.0"` +
	`"ver":"2.0","tid":"","oid":"","uti":"","rh":"","xms_","wids":["","appid":"","appidacr":"1","idp":"","ipaddr":"",` +
	`"roles":["","groups":["","realm_access":{"roles":["","resource_access":{"account":{"roles":["` +
	`"typ":"Bearer","typ":"ID","typ":"Refresh","session_state":"","allowed-origins":["` +
	`"name":"","given_name":"","family_name":"","middle_name":"","nickname":"","picture":"https://","website":"` +
	`"gender":"","birthdate":"","zoneinfo":"","locale":"en","updated_at":,"phone_number":"","phone_number_verified":false,` +
	`"email":"","email_verified":true,"preferred_username":"","address":{"formatted":"` +
	`"cnf":{"jkt":"","x5t#S256":"},"act":{"sub":"","may_act":{"` +
	`"client_id":"","scope":"openid profile email offline_access","scp":["openid","profile","email","offline_access"],` +
	`"jti":"","auth_time":,"acr":"","amr":["pwd"],["mfa","otp","hwk","swk","pop"],"at_hash":"","c_hash":"","s_hash":"",` +
	`"sid":"","nonce":"","azp":"","nbf":,"iat":,"exp":,` +
	`{"iss":"https://","sub":"","aud":["","aud":"`)
