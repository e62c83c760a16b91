// Command grammar, checked against the examples of RFC 3501/9051, the extension RFCs and profile.md.

#include <gtest/gtest.h>

#include "command_test_util.hpp"

namespace pimap::imap {
namespace {

using testing::parse_err;
using testing::parse_ok;

SequenceSet set_of(std::vector<SeqRange> ranges) { return SequenceSet{false, std::move(ranges)}; }

TEST(CommandGrammar, SimpleCommandsFromRfc3501) {
  struct Case {
    const char* text;
    CommandKind kind;
  };
  const Case cases[] = {
      {"abcd CAPABILITY\r\n", CommandKind::capability}, {"a002 NOOP\r\n", CommandKind::noop},
      {"A023 LOGOUT\r\n", CommandKind::logout},         {"a001 STARTTLS\r\n", CommandKind::starttls},
      {"FXXZ CHECK\r\n", CommandKind::check},           {"A341 CLOSE\r\n", CommandKind::close},
      {"A202 EXPUNGE\r\n", CommandKind::expunge},       {"A002 IDLE\r\n", CommandKind::idle},
      {"a UNSELECT\r\n", CommandKind::unselect},        {"A001 NAMESPACE\r\n", CommandKind::namespace_},
  };
  for (const Case& c : cases) {
    const Command cmd = parse_ok(c.text);
    EXPECT_EQ(cmd.kind, c.kind) << c.text;
    EXPECT_NE(cmd.as<NoArgs>(), nullptr) << c.text;
    EXPECT_EQ(cmd.raw, c.text);
  }
  EXPECT_EQ(parse_ok("abcd CAPABILITY\r\n").tag, "abcd");
  EXPECT_EQ(parse_ok("abcd capability\r\n").kind, CommandKind::capability);
}

TEST(CommandGrammar, LoginAndAuthenticate) {
  const Command login = parse_ok("a001 LOGIN SMITH SESAME\r\n");
  ASSERT_NE(login.as<Login>(), nullptr);
  EXPECT_EQ(login.as<Login>()->user, "SMITH");
  EXPECT_EQ(login.as<Login>()->password, "SESAME");

  const Command quoted = parse_ok("a2 LOGIN \"joe#Pdevice-1@example.com\" \"p\\\"w\\\\d\"\r\n");
  EXPECT_EQ(quoted.as<Login>()->user, "joe#Pdevice-1@example.com");
  EXPECT_EQ(quoted.as<Login>()->password, "p\"w\\d");

  const Command lit = parse_ok("a3 LOGIN {4}\r\nfred {5+}\r\nsec\"t\r\n");
  EXPECT_EQ(lit.as<Login>()->user, "fred");
  EXPECT_EQ(lit.as<Login>()->password, "sec\"t");

  const Command gss = parse_ok("A001 AUTHENTICATE GSSAPI\r\n");
  EXPECT_EQ(gss.as<Authenticate>()->mechanism, "GSSAPI");
  EXPECT_FALSE(gss.as<Authenticate>()->initial_response);

  // RFC 4959 §3 examples
  const Command ir = parse_ok("a AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n");
  EXPECT_EQ(ir.as<Authenticate>()->initial_response, "dGVzdAB0ZXN0AHRlc3Q=");
  const Command empty = parse_ok("a AUTHENTICATE EXTERNAL =\r\n");
  EXPECT_EQ(empty.as<Authenticate>()->initial_response, "=");
}

TEST(CommandGrammar, MailboxCommands) {
  EXPECT_EQ(parse_ok("A142 SELECT INBOX\r\n").as<Select>()->mailbox, "INBOX");
  EXPECT_EQ(parse_ok("A932 EXAMINE blurdybloop\r\n").kind, CommandKind::examine);
  EXPECT_EQ(parse_ok("A003 CREATE owatagusiam/\r\n").as<MailboxArg>()->mailbox, "owatagusiam/");
  EXPECT_EQ(parse_ok("A683 DELETE blurdybloop\r\n").kind, CommandKind::delete_);
  const Command ren = parse_ok("A683 RENAME blurdybloop sarasoop\r\n");
  EXPECT_EQ(ren.as<Rename>()->from, "blurdybloop");
  EXPECT_EQ(ren.as<Rename>()->to, "sarasoop");
  EXPECT_EQ(parse_ok("A002 SUBSCRIBE #news.comp.mail.mime\r\n").as<MailboxArg>()->mailbox,
            "#news.comp.mail.mime");
  EXPECT_EQ(parse_ok("A002 UNSUBSCRIBE #news.comp.mail.mime\r\n").kind, CommandKind::unsubscribe);

  const Command list = parse_ok("A202 LIST ~/Mail/ %\r\n");
  EXPECT_EQ(list.as<List>()->reference, "~/Mail/");
  EXPECT_EQ(list.as<List>()->patterns, std::vector<std::string_view>{"%"});
  const Command empty = parse_ok("A101 LIST \"\" \"\"\r\n");
  EXPECT_EQ(empty.as<List>()->reference, "");
  EXPECT_EQ(empty.as<List>()->patterns, std::vector<std::string_view>{""});
  const Command lsub = parse_ok("A002 LSUB \"#news.\" \"comp.mail.*\"\r\n");
  EXPECT_EQ(lsub.kind, CommandKind::lsub);
  EXPECT_EQ(lsub.as<List>()->patterns.front(), "comp.mail.*");
  // RFC 5258 LIST-EXTENDED
  const Command ext = parse_ok("A04 LIST (SUBSCRIBED) \"\" (\"*\" %) RETURN (CHILDREN STATUS (MESSAGES))\r\n");
  const List* l = ext.as<List>();
  EXPECT_EQ(l->selection, std::vector<std::string_view>{"SUBSCRIBED"});
  EXPECT_EQ(l->patterns, (std::vector<std::string_view>{"*", "%"}));
  ASSERT_EQ(l->return_options.size(), 3u);
  EXPECT_TRUE(l->return_options[1].is_atom("STATUS"));
  EXPECT_EQ(l->return_options[2].kind, Arg::Kind::list);

  const Command st = parse_ok("A042 STATUS blurdybloop (UIDNEXT MESSAGES HIGHESTMODSEQ)\r\n");
  EXPECT_EQ(st.as<Status>()->items, (std::vector<std::string_view>{"UIDNEXT", "MESSAGES", "HIGHESTMODSEQ"}));
}

TEST(CommandGrammar, SelectCondstoreAndQresync) {
  // RFC 7162 §3.1.8 / §3.2.5.2 examples
  EXPECT_TRUE(parse_ok("A142 SELECT INBOX (CONDSTORE)\r\n").as<Select>()->condstore);

  const Command q1 = parse_ok("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n");
  const Select* s = q1.as<Select>();
  ASSERT_TRUE(s->qresync);
  EXPECT_EQ(s->qresync->uidvalidity, 67890007u);
  EXPECT_EQ(s->qresync->modseq, 20050715194045000ull);
  EXPECT_EQ(s->qresync->known_uids, set_of({{41, 41}, {43, 211}, {214, 541}}));
  EXPECT_FALSE(s->qresync->seq_match_seqs);

  const Command q2 = parse_ok(
      "B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 "
      "15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))\r\n");
  const Qresync& q = *q2.as<Select>()->qresync;
  EXPECT_EQ(q.known_uids, SequenceSet::range(1, 29997));
  EXPECT_EQ(q.seq_match_seqs->ranges.size(), 4u);
  EXPECT_EQ(q.seq_match_uids->ranges.size(), 13u);

  const Command bare = parse_ok("a SELECT INBOX (QRESYNC (1 2))\r\n");
  EXPECT_FALSE(bare.as<Select>()->qresync->known_uids);
  EXPECT_EQ(parse_err("a SELECT INBOX (QRESYNC (0 2))\r\n").code, ErrorCode::syntax);
  EXPECT_EQ(parse_err("a SELECT INBOX (QRESYNC (1 0))\r\n").code, ErrorCode::syntax);
  EXPECT_EQ(parse_err("a SELECT INBOX (QRESYNC (1 2 1:*))\r\n").code, ErrorCode::syntax);
}

TEST(CommandGrammar, AppendAndMultiappend) {
  const std::string msg =
      "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\nFrom: Fred Foobar <foobar@Blurdybloop.COM>\r\n"
      "Subject: afternoon meeting\r\n\r\nHello Joe, do you think we can meet at 3:30 tomorrow?\r\n";
  const std::string text = "A003 APPEND saved-messages (\\Seen) {" + std::to_string(msg.size()) + "}\r\n" +
                           msg + "\r\n";
  const Command a = parse_ok(text);
  const Append* ap = a.as<Append>();
  ASSERT_NE(ap, nullptr);
  EXPECT_EQ(ap->mailbox, "saved-messages");
  ASSERT_EQ(ap->messages.size(), 1u);
  EXPECT_EQ(ap->messages[0].flags, std::vector<std::string_view>{"\\Seen"});
  EXPECT_EQ(ap->messages[0].data, msg);
  EXPECT_FALSE(ap->messages[0].internal_date);
  EXPECT_EQ(a.raw, text);

  // RFC 3502 MULTIAPPEND, with date-time (day-fixed " 7") and LITERAL+.
  const Command m = parse_ok(
      "A003 APPEND saved-messages (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {5+}\r\nfirst"
      " (\\Seen $Forwarded) \"07-Feb-1994 22:43:04 +0100\" {6}\r\nsecond {0}\r\n\r\n");
  const Append* mp = m.as<Append>();
  ASSERT_EQ(mp->messages.size(), 3u);
  EXPECT_EQ(mp->messages[0].data, "first");
  const DateTime want{{1994, 2, 7}, 21, 52, 25, -480};
  EXPECT_EQ(mp->messages[0].internal_date, want);
  EXPECT_EQ(mp->messages[1].flags, (std::vector<std::string_view>{"\\Seen", "$Forwarded"}));
  EXPECT_EQ(mp->messages[1].internal_date->zone_minutes, 60);
  EXPECT_EQ(mp->messages[2].data, "");

  // RFC 3516 binary literal may carry NUL; a normal literal may not.
  const Command bin = parse_ok(std::string("a APPEND INBOX ~{5}\r\nab\0cd\r\n", 29));
  EXPECT_TRUE(bin.as<Append>()->messages[0].binary);
  EXPECT_EQ(bin.as<Append>()->messages[0].data, std::string_view("ab\0cd", 5));
  EXPECT_EQ(parse_err(std::string("a APPEND INBOX {5}\r\nab\0cd\r\n", 28)).code, ErrorCode::syntax);
}

TEST(CommandGrammar, SearchKeys) {
  const Command s = parse_ok("A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n");
  const Search* se = s.as<Search>();
  ASSERT_EQ(se->keys.size(), 3u);
  EXPECT_EQ(se->keys[0].kind, SearchKeyKind::flagged);
  EXPECT_EQ(se->keys[1].kind, SearchKeyKind::since);
  EXPECT_EQ(se->keys[1].date, (Date{1994, 2, 1}));
  EXPECT_EQ(se->keys[2].kind, SearchKeyKind::not_);
  EXPECT_EQ(se->keys[2].children[0].kind, SearchKeyKind::from);
  EXPECT_EQ(se->keys[2].children[0].text, "Smith");

  const Command cs = parse_ok("A284 SEARCH CHARSET UTF-8 TEXT {6}\r\nXXXXXX\r\n");
  EXPECT_EQ(cs.as<Search>()->charset, "UTF-8");
  EXPECT_EQ(cs.as<Search>()->keys[0].text, "XXXXXX");

  // Every RFC 3501 key, plus RFC 5032, RFC 7162 and the profile's DAYSBEFORETODAY.
  const Command all = parse_ok(
      "a SEARCH ALL ANSWERED BCC b BEFORE 1-Jan-2000 BODY x CC c DELETED DRAFT FLAGGED FROM f "
      "HEADER X-Foo bar KEYWORD $Junk LARGER 100 NEW NOT SEEN OLD ON \"2-Mar-2001\" OR SEEN UNSEEN "
      "RECENT SEEN SENTBEFORE 1-Jan-2000 SENTON 1-Jan-2000 SENTSINCE 1-Jan-2000 SINCE 1-Jan-2000 "
      "SMALLER 5 SUBJECT s TEXT t TO u UID 1:* UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNKEYWORD k "
      "UNSEEN 2,4:6 (SEEN FLAGGED) YOUNGER 259200 OLDER 10 MODSEQ 12345 DAYSBEFORETODAY 0\r\n");
  EXPECT_EQ(all.as<Search>()->keys.size(), 41u);
  EXPECT_EQ(parse_err("a SEARCH UID 1:*,$\r\n").code, ErrorCode::syntax);  // "$" only alone

  const Command ms = parse_ok("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n");
  const SearchKey& k = ms.as<Search>()->keys[0];
  EXPECT_EQ(k.kind, SearchKeyKind::modseq);
  EXPECT_EQ(k.text, "/flags/\\draft");
  EXPECT_EQ(k.text2, "all");
  EXPECT_EQ(k.number, 620162338u);

  // RFC 4731 ESEARCH, RFC 5182 SEARCHRES
  const Command es = parse_ok("A282 SEARCH RETURN (MIN COUNT SAVE) FLAGGED SINCE 1-Feb-1994\r\n");
  EXPECT_EQ(es.as<Search>()->return_options, (std::vector<std::string_view>{"MIN", "COUNT", "SAVE"}));
  EXPECT_TRUE(parse_ok("a UID SEARCH $\r\n").as<Search>()->keys[0].set.saved);
  EXPECT_TRUE(parse_ok("a UID SEARCH UNSEEN YOUNGER 259200\r\n").uid);
  EXPECT_EQ(parse_err("a SEARCH NONE\r\n").code, ErrorCode::syntax);  // NONE only in XFILTER
}

TEST(CommandGrammar, FetchAttributes) {
  const Command f = parse_ok("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n");
  const Fetch* fe = f.as<Fetch>();
  EXPECT_EQ(fe->set, SequenceSet::range(2, 4));
  ASSERT_EQ(fe->atts.size(), 2u);
  EXPECT_EQ(fe->atts[1].kind, FetchAttKind::body_section);
  EXPECT_EQ(fe->atts[1].section.text, SectionText::header_fields);
  EXPECT_EQ(fe->atts[1].section.fields, (std::vector<std::string_view>{"DATE", "FROM"}));

  const Command u = parse_ok("A999 UID FETCH 4827313:4828442 FLAGS\r\n");
  EXPECT_TRUE(u.uid);
  EXPECT_EQ(u.as<Fetch>()->atts[0].kind, FetchAttKind::flags);

  EXPECT_EQ(parse_ok("a FETCH 1:* ALL\r\n").as<Fetch>()->macro, FetchMacro::all);
  EXPECT_EQ(parse_ok("a FETCH 1 fast\r\n").as<Fetch>()->macro, FetchMacro::fast);
  EXPECT_EQ(parse_ok("a FETCH 1 FULL\r\n").as<Fetch>()->macro, FetchMacro::full);
  EXPECT_EQ(expand(FetchMacro::full).size(), 5u);

  const Command sec = parse_ok(
      "a FETCH 1 (BODY.PEEK[1.2.MIME] BODY[]<0.2048> BODY[TEXT] BODY[3.HEADER.FIELDS.NOT (Received)] "
      "BODY BODYSTRUCTURE ENVELOPE INTERNALDATE RFC822 RFC822.HEADER RFC822.SIZE RFC822.TEXT UID "
      "BINARY[1]<0.100> BINARY.PEEK[] BINARY.SIZE[2] MODSEQ X-GM-MSGID)\r\n");
  const auto& atts = sec.as<Fetch>()->atts;
  ASSERT_EQ(atts.size(), 18u);
  EXPECT_TRUE(atts[0].peek);
  EXPECT_EQ(atts[0].section.part, (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(atts[0].section.text, SectionText::mime);
  EXPECT_EQ(atts[1].partial, (Partial{0, 2048}));
  EXPECT_EQ(atts[3].section.text, SectionText::header_fields_not);
  EXPECT_EQ(atts[4].kind, FetchAttKind::body);
  EXPECT_EQ(atts[13].kind, FetchAttKind::binary);
  EXPECT_EQ(atts[13].partial, (Partial{0, 100}));
  EXPECT_TRUE(atts[14].peek);
  EXPECT_EQ(atts[15].kind, FetchAttKind::binary_size);
  EXPECT_EQ(atts[16].kind, FetchAttKind::modseq);
  EXPECT_EQ(atts[17].kind, FetchAttKind::other);
  EXPECT_EQ(atts[17].name, "X-GM-MSGID");

  // RFC 7162 §3.1.4.1 / §3.2.6
  const Command cs = parse_ok("s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)\r\n");
  EXPECT_EQ(cs.as<Fetch>()->changed_since, 12345u);
  const Command v = parse_ok("s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n");
  EXPECT_TRUE(v.as<Fetch>()->vanished);
  EXPECT_EQ(v.as<Fetch>()->set, SequenceSet::range(300, 500));
  EXPECT_EQ(parse_ok("a FETCH 5:* (FLAGS)\r\n").as<Fetch>()->set, SequenceSet::range(5, kStar));
}

TEST(CommandGrammar, StoreCopyMoveExpunge) {
  const Command st = parse_ok("A003 STORE 2:4 +FLAGS (\\Deleted)\r\n");
  const Store* s = st.as<Store>();
  EXPECT_EQ(s->mode, StoreMode::add);
  EXPECT_FALSE(s->silent);
  EXPECT_EQ(s->flags, std::vector<std::string_view>{"\\Deleted"});

  const Command cs = parse_ok("a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)\r\n");
  EXPECT_TRUE(cs.uid);
  EXPECT_EQ(cs.as<Store>()->unchanged_since, 12121230045ull);
  EXPECT_TRUE(cs.as<Store>()->silent);
  EXPECT_EQ(cs.as<Store>()->set, set_of({{6, 6}, {4, 4}, {8, 8}}));

  const Command bare = parse_ok("a STORE 1 -FLAGS \\Seen $Label1\r\n");
  EXPECT_EQ(bare.as<Store>()->mode, StoreMode::remove);
  EXPECT_EQ(bare.as<Store>()->flags, (std::vector<std::string_view>{"\\Seen", "$Label1"}));
  EXPECT_EQ(parse_ok("a STORE 1 FLAGS ()\r\n").as<Store>()->mode, StoreMode::replace);

  const Command cp = parse_ok("A003 COPY 2:4 MEEPLE\r\n");
  EXPECT_EQ(cp.as<CopyMove>()->mailbox, "MEEPLE");
  const Command mv = parse_ok("a UID MOVE 42:69 foo\r\n");
  EXPECT_EQ(mv.kind, CommandKind::move);
  EXPECT_TRUE(mv.uid);
  const Command ux = parse_ok("A003 UID EXPUNGE 3000:3002\r\n");
  EXPECT_EQ(ux.as<UidExpunge>()->set, SequenceSet::range(3000, 3002));
}

TEST(CommandGrammar, EnableCompressIdNotify) {
  const Command en = parse_ok("t2 ENABLE CONDSTORE X-GOOD-IDEA\r\n");
  EXPECT_EQ(en.as<Enable>()->capabilities, (std::vector<std::string_view>{"CONDSTORE", "X-GOOD-IDEA"}));
  EXPECT_EQ(parse_ok("a COMPRESS DEFLATE\r\n").as<Compress>()->mechanism, "DEFLATE");

  const Command id = parse_ok("a023 ID (\"name\" \"sodr\" \"version\" \"19.34\")\r\n");
  EXPECT_EQ(id.kind, CommandKind::id);
  const Generic* g = id.as<Generic>();
  ASSERT_EQ(g->args.size(), 1u);
  ASSERT_EQ(g->args[0].items.size(), 4u);
  EXPECT_EQ(g->args[0].items[1].text, "sodr");
  EXPECT_EQ(parse_ok("a ID NIL\r\n").as<Generic>()->args[0].text, "NIL");

  // RFC 5465 §8 example, carried generically.
  const Command n = parse_ok(
      "a NOTIFY SET STATUS (selected MessageNew (UID BODY.PEEK[HEADER.FIELDS (from to subject)]) "
      "MessageExpunge) (subtree Lists MessageNew)\r\n");
  EXPECT_EQ(n.kind, CommandKind::notify);
  const auto& args = n.as<Generic>()->args;
  ASSERT_EQ(args.size(), 4u);
  EXPECT_EQ(args[2].items[2].items[1].text, "BODY.PEEK[HEADER.FIELDS (from to subject)]");
}

TEST(CommandGrammar, PimapPreferences) {
  const Command set = parse_ok("a1 XSETPIMAPPREF PIMAP_OUTBAND_CHANNEL WAP_PUSH\r\n");
  const SetPimapPref* sp = set.as<SetPimapPref>();
  ASSERT_EQ(sp->prefs.size(), 1u);
  EXPECT_EQ(sp->prefs[0].name, "PIMAP_OUTBAND_CHANNEL");
  EXPECT_TRUE(sp->prefs[0].value.is_atom("WAP_PUSH"));

  EXPECT_EQ(parse_ok("a XSETPIMAPPREF PIMAP_OUTBAND_ADDRESS +4917012345678\r\n")
                .as<SetPimapPref>()->prefs[0].value.text,
            "+4917012345678");

  const Command fmt =
      parse_ok("a XSETPIMAPPREF PIMAP_INBAND_NEW_FORMAT (UID FLAGS ENVELOPE BODY.PEEK[HEADER])\r\n");
  const PimapPref& p = fmt.as<SetPimapPref>()->prefs[0];
  EXPECT_EQ(p.value.kind, Arg::Kind::list);
  ASSERT_EQ(p.fetch_atts.size(), 4u);
  EXPECT_EQ(p.fetch_atts[3].kind, FetchAttKind::body_section);
  EXPECT_TRUE(p.fetch_atts[3].peek);
  EXPECT_EQ(parse_err("a XSETPIMAPPREF PIMAP_INBAND_NEW_FORMAT (UID BOGUS[1])\r\n").code, ErrorCode::syntax);

  const Command get = parse_ok("a2 XGETPIMAPPREF (PIMAP_OUTBAND_CHANNEL PIMAP_EVENT_FILTER)\r\n");
  EXPECT_EQ(get.as<GetPimapPref>()->names,
            (std::vector<std::string_view>{"PIMAP_OUTBAND_CHANNEL", "PIMAP_EVENT_FILTER"}));
  EXPECT_FALSE(get.as<GetPimapPref>()->plural);
  const Command alias = parse_ok("a2 XGETPIMAPPREFS PIMAP_INBAND_PUSH\r\n");
  EXPECT_EQ(alias.kind, CommandKind::xgetpimappref);
  EXPECT_TRUE(alias.as<GetPimapPref>()->plural);
  EXPECT_TRUE(parse_ok("a XGETPIMAPPREF\r\n").as<GetPimapPref>()->names.empty());

  EXPECT_TRUE(parse_ok("a XPROVISION\r\n").as<Provision>()->args.empty());
  EXPECT_EQ(parse_ok("a XPROVISION XFILTER (V N)\r\n").as<Provision>()->args.size(), 2u);
}

TEST(CommandGrammar, XFilter) {
  const Command v = parse_ok("a XFILTER INBOX V DAYSBEFORETODAY 7 UNDELETED\r\n");
  const Filter* f = v.as<Filter>();
  EXPECT_FALSE(f->all_mailboxes);
  EXPECT_EQ(f->mailbox, "INBOX");
  EXPECT_EQ(f->type, FilterType::view);
  ASSERT_EQ(f->criteria.size(), 2u);
  EXPECT_EQ(f->criteria[0].kind, SearchKeyKind::days_before_today);
  EXPECT_EQ(f->criteria[0].number, 7u);

  const Command all = parse_ok("a XFILTER ALL B NONE\r\n");
  EXPECT_TRUE(all.as<Filter>()->all_mailboxes);
  EXPECT_EQ(all.as<Filter>()->criteria[0].kind, SearchKeyKind::none);
  // A quoted "ALL" is a mailbox called ALL.
  const Command named = parse_ok("a XFILTER \"ALL\" N FROM boss@example.com\r\n");
  EXPECT_FALSE(named.as<Filter>()->all_mailboxes);
  EXPECT_EQ(named.as<Filter>()->mailbox, "ALL");

  const Command get = parse_ok("a XFILTER Sent N GET\r\n");
  EXPECT_TRUE(get.as<Filter>()->get);
  EXPECT_EQ(get.as<Filter>()->type, FilterType::notification);
  EXPECT_EQ(parse_err("a XFILTER Sent B GET\r\n").code, ErrorCode::syntax);
}

TEST(CommandGrammar, XDeliver) {
  const Command n = parse_ok("a XDELIVER N {11}\r\nSubject: hi\r\n");
  const Deliver* d = n.as<Deliver>();
  EXPECT_EQ(d->mode, DeliverMode::new_message);
  EXPECT_EQ(d->message, "Subject: hi");
  EXPECT_FALSE(d->save_to);

  const Command fw = parse_ok("a XDELIVER F INBOX 4711 Y SAVETO=\"Sent Items\" {5+}\r\nhello\r\n");
  const Deliver* f = fw.as<Deliver>();
  EXPECT_EQ(f->mode, DeliverMode::forward);
  EXPECT_EQ(f->mailbox, "INBOX");
  EXPECT_EQ(f->uid, 4711u);
  EXPECT_TRUE(f->include_attachments);
  EXPECT_EQ(f->save_to, "Sent Items");
  EXPECT_EQ(f->message, "hello");
  const Command re = parse_ok("a XDELIVER R Archive 3 N saveto=Sent {1}\r\nx\r\n");
  EXPECT_EQ(re.as<Deliver>()->mode, DeliverMode::reply);
  EXPECT_EQ(re.as<Deliver>()->save_to, "Sent");
}

TEST(CommandGrammar, XZipWrapsATaggedCommand) {
  const Command z = parse_ok("z1 XZIP i1 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 7)\r\n");
  ASSERT_NE(z.as<Xzip>(), nullptr);
  const Command& inner = *z.as<Xzip>()->inner;
  EXPECT_EQ(inner.tag, "i1");
  EXPECT_EQ(inner.kind, CommandKind::fetch);
  EXPECT_TRUE(inner.uid);
  EXPECT_EQ(inner.raw, "i1 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 7)\r\n");
  // With a literal inside, and nested.
  const Command lit = parse_ok("z XZIP y XZIP x LOGIN {3}\r\nabc pw\r\n");
  EXPECT_EQ(lit.as<Xzip>()->inner->as<Xzip>()->inner->as<Login>()->user, "abc");
  EXPECT_EQ(parse_err("z XZIP\r\n").code, ErrorCode::syntax);
  EXPECT_EQ(parse_err("z XZIP NOOP\r\n").code, ErrorCode::syntax);
}

TEST(CommandGrammar, XConvert) {
  const Command c = parse_ok("a XCONVERT 3 2 AS text/plain\r\n");
  const Convert* cv = c.as<Convert>();
  EXPECT_EQ(cv->number, 3u);
  EXPECT_EQ(cv->part, std::vector<std::uint32_t>{2});
  EXPECT_EQ(cv->type, "text");
  EXPECT_EQ(cv->subtype, "plain");
  const Command u = parse_ok("a UID XCONVERT 4711 1.2 AS image/jpeg (WIDTH 320 HEIGHT 240)\r\n");
  EXPECT_TRUE(u.uid);
  EXPECT_EQ(u.as<Convert>()->part, (std::vector<std::uint32_t>{1, 2}));
  ASSERT_EQ(u.as<Convert>()->params.size(), 2u);
  EXPECT_EQ(u.as<Convert>()->params[1].first, "HEIGHT");
  EXPECT_EQ(u.as<Convert>()->params[1].second, "240");
}

TEST(CommandGrammar, XMacro) {
  const Command def = parse_ok("a XMACRO DEFINE sync (SELECT $1) (UID FETCH $2:* (FLAGS))\r\n");
  const Macro* m = def.as<Macro>();
  EXPECT_EQ(m->op, MacroOp::define);
  EXPECT_EQ(m->name, "sync");
  ASSERT_EQ(m->args.size(), 2u);
  EXPECT_EQ(m->args[1].raw, "(UID FETCH $2:* (FLAGS))");
  EXPECT_EQ(m->args[1].items[2].text, "$2:*");

  const Command run = parse_ok(
      "a XMACRO RUN STATECOMPARE (INBOX 3857529045 20010715194045000) (\"Sent Items\" 1 5)\r\n");
  EXPECT_EQ(run.as<Macro>()->op, MacroOp::run);
  EXPECT_EQ(run.as<Macro>()->args[1].items[0].text, "Sent Items");
  EXPECT_EQ(parse_ok("a XMACRO LIST\r\n").as<Macro>()->op, MacroOp::list);
  EXPECT_EQ(parse_ok("a XMACRO DELETE sync\r\n").as<Macro>()->name, "sync");
  EXPECT_EQ(parse_err("a XMACRO DEFINE x ()\r\n").code, ErrorCode::syntax);
}

TEST(CommandGrammar, UnknownCommandsPassThrough) {
  const std::string text = "a7 UID SORT (DATE) UTF-8 ALL\r\n";
  const Command s = parse_ok(text);
  EXPECT_EQ(s.kind, CommandKind::other);
  EXPECT_TRUE(s.uid);
  EXPECT_EQ(s.name, "SORT");
  EXPECT_EQ(s.raw, text);
  EXPECT_EQ(s.raw_after_tag(), "UID SORT (DATE) UTF-8 ALL\r\n");

  const Command x = parse_ok("b X-WEIRD foo BODY[HEADER.FIELDS (A \"]\")]<1.2> {3}\r\nabc (\"x\" NIL) \\Seen\r\n");
  const auto& args = x.as<Generic>()->args;
  ASSERT_EQ(args.size(), 5u);
  EXPECT_EQ(args[1].text, "BODY[HEADER.FIELDS (A \"]\")]<1.2>");
  EXPECT_EQ(args[2].kind, Arg::Kind::literal);
  EXPECT_EQ(args[2].text, "abc");
  EXPECT_EQ(args[3].items[1].text, "NIL");
  EXPECT_EQ(args[4].text, "\\Seen");
  EXPECT_EQ(parse_ok("a GETQUOTAROOT INBOX\r\n").name, "GETQUOTAROOT");
}

TEST(CommandGrammar, BareLineFeedIsAccepted) {
  const Command c = parse_ok("a LOGIN {3}\nabc def\n");
  EXPECT_EQ(c.as<Login>()->user, "abc");
  EXPECT_EQ(c.as<Login>()->password, "def");
}

TEST(CommandGrammar, CommandsOutliveTheParser) {
  Command kept;
  {
    CommandParser p;
    p.feed("a SELECT \"Sent Items\"\r\n");
    kept = std::get<Command>(p.next());
  }
  const Command copy = kept;  // shares the storage
  EXPECT_EQ(copy.as<Select>()->mailbox, "Sent Items");
  EXPECT_EQ(copy.raw, "a SELECT \"Sent Items\"\r\n");
}

}  // namespace
}  // namespace pimap::imap
