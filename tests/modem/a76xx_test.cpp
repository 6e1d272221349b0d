#include "modem/a76xx.h"

#include <gtest/gtest.h>
#include <string>

namespace cellrtc::modem::a76xx {
namespace {

AtResponse response(AtResult result, std::vector<std::string> lines = {},
                    std::string error_text = "", std::optional<int> code = std::nullopt) {
  AtResponse r;
  r.result = result;
  r.lines = std::move(lines);
  r.error_text = std::move(error_text);
  r.error_code = code;
  return r;
}

TEST(A76xxFields, SplitsQuotedAndBareFields) {
  auto f = fields("+COPS: 0,0,\"vodafone GR, 4G\",7", "+COPS:");
  ASSERT_TRUE(f);
  EXPECT_EQ(*f, (std::vector<std::string>{"0", "0", "vodafone GR, 4G", "7"}));
  EXPECT_FALSE(fields("+CSQ: 1,2", "+COPS:"));
  EXPECT_FALSE(fields("+COPS: 0,0,\"cut", "+COPS:"));
}

TEST(A76xxCsq, DbmAndBars) {
  auto s = parse_csq("+CSQ: 20,99");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->dbm, -73);
  EXPECT_EQ(s->bars, 4);
  EXPECT_EQ(parse_csq("+CSQ: 0,0")->dbm, -113);
  EXPECT_EQ(parse_csq("+CSQ: 0,0")->bars, 0);
  EXPECT_EQ(parse_csq("+CSQ: 31,0")->dbm, -51);
  EXPECT_EQ(parse_csq("+CSQ: 31,0")->bars, 5);
  EXPECT_EQ(parse_csq("+CSQ: 5,3")->dbm, -103);
  EXPECT_EQ(parse_csq("+CSQ: 5,3")->bars, 1);
  EXPECT_EQ(parse_csq("+CSQ: 100,99")->dbm, -116);
  EXPECT_EQ(parse_csq("+CSQ: 191,99")->dbm, -25);
}

TEST(A76xxCsq, NinetyNineIsAStateNotAnError) {
  auto s = parse_csq("+CSQ: 99,99");
  ASSERT_TRUE(s);  // parsed fine
  EXPECT_FALSE(s->known());
  EXPECT_EQ(s->bars, 0);
  EXPECT_FALSE(parse_csq("+CSQ: 50,99"));
  EXPECT_FALSE(parse_csq("+CSQ: 20"));
  EXPECT_FALSE(parse_csq("+CSQ: x,99"));
}

TEST(A76xxRegistration, ReadResponsesOfAllThree) {
  auto c = parse_registration("+CREG: 0,1", true);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->domain, RegDomain::cs);
  EXPECT_EQ(c->n, 0);
  EXPECT_EQ(c->stat, RegStatus::home);
  auto g = parse_registration("+CGREG: 2,5,\"1A2B\",\"00C3F1\",3", true);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->domain, RegDomain::gprs);
  EXPECT_EQ(g->stat, RegStatus::roaming);
  EXPECT_EQ(g->area, 0x1A2Bu);
  EXPECT_EQ(g->cell, 0xC3F1u);
  EXPECT_EQ(g->act, AccessTech::gsm_egprs);
  auto e = parse_registration("+CEREG: 2,1,\"2F01\",\"0A1B2C3D\",7", true);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->domain, RegDomain::eps);
  EXPECT_EQ(e->cell, 0x0A1B2C3Du);
  EXPECT_EQ(e->act, AccessTech::eutran);
  EXPECT_EQ(parse_registration("+CEREG: 0,2", true)->stat, RegStatus::searching);
  EXPECT_EQ(parse_registration("+CEREG: 0,3", true)->stat, RegStatus::denied);
  EXPECT_EQ(parse_registration("+CEREG: 0,0", true)->stat, RegStatus::not_registered);
  EXPECT_EQ(parse_registration("+CEREG: 0,4", true)->stat, RegStatus::unknown);
}

TEST(A76xxRegistration, UrcForms) {
  auto u = parse_registration("+CEREG: 1", false);
  ASSERT_TRUE(u);
  EXPECT_FALSE(u->n);
  EXPECT_EQ(u->stat, RegStatus::home);
  auto l = parse_registration("+CREG: 5,\"00C3\",\"1234\",0", false);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->stat, RegStatus::roaming);
  EXPECT_EQ(l->act, AccessTech::gsm);
  // Field counts that only fit one form win over the caller's guess.
  EXPECT_EQ(parse_registration("+CEREG: 1", true)->stat, RegStatus::home);
  EXPECT_EQ(parse_registration("+CEREG: 0,1", false)->n, 0);
  EXPECT_FALSE(parse_registration("+CEREG: 0,12", true));
  EXPECT_FALSE(parse_registration("+CSQ: 1,1", true));
  EXPECT_TRUE(is_registered(RegStatus::home));
  EXPECT_TRUE(is_registered(RegStatus::roaming));
  EXPECT_FALSE(is_registered(RegStatus::searching));
  EXPECT_FALSE(is_registered(RegStatus::denied));
}

TEST(A76xxRegistration, SimcomEmergencyOnlyIsEleven) {
  // A76XX manual 4.2.1 / 5.2.1 / 5.2.2: 11 "attached for emergency bearer services only".
  auto e = parse_registration("+CEREG: 0,11", true);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->stat, RegStatus::emergency_only);
  EXPECT_FALSE(is_registered(e->stat));
  EXPECT_EQ(parse_registration("+CREG: 8", false)->stat, RegStatus::emergency_only);
}

TEST(A76xxCops, OperatorAndTechnology) {
  // From the original design's boot log: numeric format, E-UTRAN.
  auto op = parse_cops("+COPS: 0,2,\"20205\",7");
  ASSERT_TRUE(op);
  EXPECT_EQ(op->mode, 0);
  EXPECT_EQ(op->format, 2);
  EXPECT_EQ(op->name, "20205");
  EXPECT_EQ(op->act, AccessTech::eutran);
  EXPECT_STREQ(technology_name(*op->act), "LTE");
  auto edge = parse_cops("+COPS: 0,0,\"vodafone GR\",3");
  ASSERT_TRUE(edge);
  EXPECT_EQ(edge->name, "vodafone GR");
  EXPECT_STREQ(technology_name(*edge->act), "EDGE");
  EXPECT_STREQ(technology_name(*parse_cops("+COPS: 0,0,\"X\",0")->act), "GSM");
  // SIMCom's <AcT> 8 is "UTRAN HSPA+" (A76XX manual 4.2.2), not TS 27.007's EC-GSM-IoT.
  EXPECT_STREQ(technology_name(*parse_cops("+COPS: 0,2,\"46001\",8")->act), "HSPA+");
  auto none = parse_cops("+COPS: 0");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->name.empty());
  EXPECT_FALSE(none->act);
  EXPECT_FALSE(parse_cops("+COPS: 9,0,\"X\""));
  EXPECT_FALSE(parse_cops("+COPS: 0,7,\"X\",7"));
}

TEST(A76xxSim, CpinCodes) {
  EXPECT_EQ(parse_cpin("+CPIN: READY"), SimState::ready);
  EXPECT_EQ(parse_cpin("+CPIN: SIM PIN"), SimState::pin_required);
  EXPECT_EQ(parse_cpin("+CPIN: SIM PUK"), SimState::puk_required);
  EXPECT_EQ(parse_cpin("+CPIN: PH-SIM PIN"), SimState::other_lock);
  EXPECT_EQ(parse_cpin("+CPIN: SIM REMOVED"), SimState::not_inserted);
  EXPECT_EQ(parse_cpin("+CPIN: NOT READY"), SimState::not_ready);
  EXPECT_FALSE(parse_cpin("+CSQ: 1,1"));
}

TEST(A76xxSim, StateOfResponsesAndErrors) {
  EXPECT_EQ(sim_state_of(response(AtResult::ok, {"+CPIN: READY"})), SimState::ready);
  EXPECT_EQ(sim_state_of(response(AtResult::cme_error, {}, "10", 10)), SimState::not_inserted);
  EXPECT_EQ(sim_state_of(response(AtResult::cme_error, {}, "SIM not inserted")),
            SimState::not_inserted);
  EXPECT_EQ(sim_state_of(response(AtResult::cme_error, {}, "SIM busy")), SimState::not_ready);
  EXPECT_EQ(sim_state_of(response(AtResult::cme_error, {}, "SIM failure")), SimState::failure);
  EXPECT_EQ(sim_state_of(response(AtResult::cme_error, {}, "SIM PIN required")),
            SimState::pin_required);
  EXPECT_EQ(sim_state_of(response(AtResult::error)), SimState::unknown);
  EXPECT_EQ(cme_code(response(AtResult::cme_error, {}, "incorrect password")),
            cme::kIncorrectPassword);
}

TEST(A76xxCgev, PdnEvents) {
  auto a = parse_cgev("+CGEV: EPS PDN ACT 1");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, PdnEvent::Kind::pdn_activated);
  EXPECT_EQ(a->cid, 1);
  auto d = parse_cgev("+CGEV: NW PDN DEACT 1");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->kind, PdnEvent::Kind::pdn_deactivated);
  auto nw = parse_cgev("+CGEV: NW PDN ACT 2,0");
  ASSERT_TRUE(nw);
  EXPECT_EQ(nw->kind, PdnEvent::Kind::pdn_activated);
  EXPECT_EQ(nw->cid, 2);
  auto me = parse_cgev("+CGEV: ME PDN ACT 8,1");
  ASSERT_TRUE(me);
  EXPECT_EQ(me->kind, PdnEvent::Kind::pdn_activated);
  EXPECT_EQ(me->cid, 8);
  EXPECT_EQ(parse_cgev("+CGEV: ME DETACH")->kind, PdnEvent::Kind::me_detach);
  EXPECT_EQ(parse_cgev("+CGEV: NW DETACH")->kind, PdnEvent::Kind::nw_detach);
  EXPECT_EQ(parse_cgev("+CGEV: NW MODIFY 1,0,0")->kind, PdnEvent::Kind::other);
}

TEST(A76xxBuilders, Commands) {
  EXPECT_EQ(*cgdcont(1, "internet.vodafone.gr"), "AT+CGDCONT=1,\"IP\",\"internet.vodafone.gr\"");
  EXPECT_EQ(*cgdcont(1, ""), "AT+CGDCONT=1,\"IP\",\"\"");
  EXPECT_FALSE(cgdcont(1, "bad\"apn").ok());
  EXPECT_FALSE(cgdcont(1, "a..b").ok());
  EXPECT_FALSE(cgdcont(0, "x").ok());
  EXPECT_TRUE(cgdcont(15, "x").ok());  // A76XX manual 5.2.5: <cid> 1..15
  EXPECT_FALSE(cgdcont(16, "x").ok());
  // A76XX manual 5.2.16: AT+CGAUTH=<cid>,<auth_type>,<passwd>,<user>: password first.
  EXPECT_EQ(*cgauth(1, Auth::pap, "user", "pass"), "AT+CGAUTH=1,1,\"pass\",\"user\"");
  EXPECT_EQ(*cgauth(1, Auth::chap, "", "pass"), "AT+CGAUTH=1,2,\"pass\"");
  EXPECT_TRUE(cgauth(1, Auth::pap, std::string(50, 'u'), "p").ok());  // AT+CGAUTH=? says 50
  EXPECT_FALSE(cgauth(1, Auth::pap, std::string(51, 'u'), "p").ok());
  EXPECT_FALSE(cgauth(16, Auth::pap, "u", "p").ok());
  EXPECT_EQ(*cgauth(1, Auth::none, "", ""), "AT+CGAUTH=1,0");
  EXPECT_FALSE(cgauth(1, Auth::chap, "u\"", "p").ok());
  EXPECT_EQ(*cpin("1234"), "AT+CPIN=\"1234\"");
  EXPECT_FALSE(cpin("12a4").ok());
  EXPECT_FALSE(cpin("123").ok());
  EXPECT_EQ(cnmp(NetworkMode::automatic), "AT+CNMP=2");
  EXPECT_EQ(cnmp(NetworkMode::gsm_only), "AT+CNMP=13");
  EXPECT_EQ(cnmp(NetworkMode::lte_only), "AT+CNMP=38");
  EXPECT_EQ(cnmp(NetworkMode::wcdma_only), "AT+CNMP=14");
  EXPECT_EQ(*ipr(921600), "AT+IPR=921600");
  EXPECT_EQ(*ipr(115200), "AT+IPR=115200");
  EXPECT_EQ(*ipr(1842000), "AT+IPR=1842000");  // A76XX manual 10.2.3's list
  EXPECT_EQ(*ipr(3686400), "AT+IPR=3686400");
  EXPECT_FALSE(ipr(3000000).ok());
  EXPECT_FALSE(ipr(3200000).ok());
  EXPECT_FALSE(ipr(0).ok());  // autobauding: not offered
  EXPECT_FALSE(ipr(123456).ok());
  EXPECT_EQ(*iprex(921600), "AT+IPREX=921600");
  EXPECT_FALSE(iprex(3000000).ok());
  EXPECT_EQ(dial(1), "ATD*99#");
  EXPECT_EQ(dial(3), "ATD*99***3#");
  EXPECT_TRUE(dial_command(1, seconds(30)).enters_data_mode);
  EXPECT_TRUE(resume_data().enters_data_mode);
  EXPECT_TRUE(escape().raw);
  EXPECT_EQ(escape(milliseconds(1500)).guard, milliseconds(1500));
}

TEST(A76xxStatus, BootSequenceAndNetworkUrcs) {
  ModemStatus st;
  st.sim = SimState::ready;
  EXPECT_EQ(apply_urc(st, "*ATREADY: 1"), UrcKind::boot);
  EXPECT_TRUE(st.at_ready);
  EXPECT_EQ(st.sim, SimState::unknown);  // a reboot forgets the old state
  EXPECT_EQ(apply_urc(st, "+CPIN: READY"), UrcKind::sim);
  EXPECT_EQ(st.sim, SimState::ready);
  EXPECT_EQ(apply_urc(st, "SMS DONE"), UrcKind::init_done);
  EXPECT_EQ(apply_urc(st, "PB DONE"), UrcKind::init_done);
  EXPECT_TRUE(st.sms_done && st.pb_done);
  EXPECT_EQ(apply_urc(st, "+CGREG: 1"), UrcKind::registration);
  EXPECT_EQ(apply_urc(st, "+CEREG: 2"), UrcKind::registration);
  auto reg = data_registration(st);
  ASSERT_TRUE(reg);
  EXPECT_EQ(reg->domain, RegDomain::gprs);  // registered on GPRS beats searching on LTE
  EXPECT_EQ(apply_urc(st, "+CEREG: 1"), UrcKind::registration);
  EXPECT_EQ(data_registration(st)->domain, RegDomain::eps);
  EXPECT_EQ(apply_urc(st, "+CGEV: EPS PDN ACT 1"), UrcKind::pdn);
  EXPECT_EQ(apply_urc(st, "+CGEV: ME DETACH"), UrcKind::pdn);
  EXPECT_EQ(st.last_pdn_event->kind, PdnEvent::Kind::me_detach);
  EXPECT_EQ(apply_urc(st, "+CFUN: 1"), UrcKind::radio);
  EXPECT_EQ(st.cfun, 1);
  EXPECT_EQ(apply_urc(st, "RDY"), UrcKind::boot);
  EXPECT_EQ(apply_urc(st, "+CTZV: +8"), UrcKind::other);
  EXPECT_EQ(apply_urc(st, "NORMAL POWER DOWN"), UrcKind::power_down);
  EXPECT_FALSE(st.at_ready);
}

}  // namespace
}  // namespace cellrtc::modem::a76xx
