/** `GET /v1/me`: the principal the gateway stamps for this caller, and the turn id of this request. */
export interface MeResponse {
  tid: string;
  uid: string;
  email: string;
  roles: string[];
  iss: string;
  sub: string;
  turn_id: string;
}
