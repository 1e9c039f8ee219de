"""The built-in catalogue: complaint categories and the real public services they concern.

Until the portal's service catalogue exists, the services people complain about live here.
`level` says who answers: `national` (the agency `agency_ref` itself), `province` or `regency`
(the local government of the report's place, or its unit named by `agency_ref`, e.g.
`disdukcapil` -> `kab-11.01.disdukcapil`).
"""

from __future__ import annotations

from typing import NamedTuple


class CategoryRow(NamedTuple):
    code: str
    name: str
    name_en: str
    ministry_id: str


class ServiceRow(NamedTuple):
    code: str
    name: str
    name_en: str
    category_code: str
    level: str
    agency_ref: str
    keywords: str
    description: str = ""


CATEGORIES: tuple[CategoryRow, ...] = (
    CategoryRow(
        "kependudukan", "Administrasi Kependudukan", "Civil registration", "kemendagri.dukcapil"
    ),
    CategoryRow(
        "perlindungan-sosial", "Perlindungan dan Bantuan Sosial", "Social protection", "kemensos"
    ),
    CategoryRow("kesehatan", "Kesehatan", "Health", "kemenkes"),
    CategoryRow("pendidikan", "Pendidikan", "Education", "kemendikdasmen"),
    CategoryRow(
        "perizinan", "Perizinan dan Investasi", "Permits and business licensing", "kemenpan-rb"
    ),
    CategoryRow("kepolisian", "Layanan Kepolisian", "Police services", "polri"),
    CategoryRow("keimigrasian", "Keimigrasian", "Immigration", "kemenimipas.imigrasi"),
    CategoryRow("perpajakan", "Perpajakan", "Taxes", "kemenkeu.pajak"),
    CategoryRow(
        "infrastruktur", "Infrastruktur dan Lingkungan", "Infrastructure and environment", "kemenpu"
    ),
    CategoryRow("ketenagakerjaan", "Ketenagakerjaan", "Employment", "kemnaker"),
    CategoryRow("pertanahan", "Pertanahan", "Land", "atr-bpn"),
    CategoryRow("keagamaan", "Layanan Keagamaan", "Religious services", "kemenag"),
    CategoryRow("lainnya", "Pelayanan Publik Lainnya", "Other public services", "kemenpan-rb"),
)

SERVICES: tuple[ServiceRow, ...] = (
    # Civil registration: documents by the regency/city Disdukcapil, systems by Ditjen Dukcapil.
    ServiceRow(
        "ktp-el",
        "Penerbitan KTP-el",
        "Electronic identity card (KTP-el)",
        "kependudukan",
        "regency",
        "disdukcapil",
        "ktp ktp-el e-ktp blangko perekaman cetak kartu identitas",
    ),
    ServiceRow(
        "kartu-keluarga",
        "Kartu Keluarga",
        "Family card",
        "kependudukan",
        "regency",
        "disdukcapil",
        "kartu keluarga kk anggota keluarga pisah kk",
    ),
    ServiceRow(
        "akta-kelahiran",
        "Akta Kelahiran",
        "Birth certificate",
        "kependudukan",
        "regency",
        "disdukcapil",
        "akta kelahiran lahir bayi anak",
    ),
    ServiceRow(
        "akta-kematian",
        "Akta Kematian",
        "Death certificate",
        "kependudukan",
        "regency",
        "disdukcapil",
        "akta kematian meninggal wafat",
    ),
    ServiceRow(
        "pindah-datang",
        "Surat Keterangan Pindah",
        "Change of residence",
        "kependudukan",
        "regency",
        "disdukcapil",
        "pindah datang skpwni domisili",
    ),
    ServiceRow(
        "ikd",
        "Identitas Kependudukan Digital (IKD)",
        "Digital population identity (IKD)",
        "kependudukan",
        "national",
        "kemendagri.dukcapil",
        "ikd aplikasi identitas digital",
    ),
    ServiceRow(
        "data-kependudukan",
        "Perbaikan Data dan NIK",
        "Population data and NIK correction",
        "kependudukan",
        "national",
        "kemendagri.dukcapil",
        "nik ganda data tidak padan siak",
    ),
    # Social protection: national programmes at Kemensos, local data at the Dinas Sosial.
    ServiceRow(
        "pkh",
        "Program Keluarga Harapan (PKH)",
        "Family Hope Programme (PKH)",
        "perlindungan-sosial",
        "national",
        "kemensos",
        "pkh bansos pendamping",
    ),
    ServiceRow(
        "bpnt",
        "Bantuan Pangan Non Tunai (BPNT/Sembako)",
        "Non-cash food assistance (BPNT)",
        "perlindungan-sosial",
        "national",
        "kemensos",
        "bpnt sembako kks e-warong",
    ),
    ServiceRow(
        "dtsen",
        "Pendataan DTSEN dan Usulan Penerima Bansos",
        "Social registry (DTSEN) and aid applications",
        "perlindungan-sosial",
        "regency",
        "dinsos",
        "dtsen dtks usulan bansos desil",
    ),
    ServiceRow(
        "pbi-jk",
        "Penerima Bantuan Iuran JKN (PBI-JK)",
        "JKN premium assistance (PBI-JK)",
        "perlindungan-sosial",
        "regency",
        "dinsos",
        "pbi iuran dinonaktifkan",
    ),
    ServiceRow(
        "rehabilitasi-sosial",
        "Rehabilitasi Sosial",
        "Social rehabilitation",
        "perlindungan-sosial",
        "regency",
        "dinsos",
        "terlantar odgj lansia disabilitas",
    ),
    ServiceRow(
        "blt-dana-desa",
        "BLT Dana Desa",
        "Village fund cash transfer",
        "perlindungan-sosial",
        "national",
        "kemendesa",
        "blt dana desa kepala desa",
    ),
    # Health.
    ServiceRow(
        "jkn",
        "Jaminan Kesehatan Nasional (BPJS Kesehatan)",
        "National health insurance (BPJS Kesehatan)",
        "kesehatan",
        "national",
        "bpjs-kesehatan",
        "bpjs jkn kis faskes rujukan iuran",
    ),
    ServiceRow(
        "puskesmas",
        "Pelayanan Puskesmas",
        "Community health centres",
        "kesehatan",
        "regency",
        "",
        "puskesmas bidan imunisasi posyandu",
    ),
    ServiceRow(
        "rsud",
        "Rumah Sakit Umum Daerah",
        "Regional public hospitals",
        "kesehatan",
        "regency",
        "",
        "rsud rumah sakit igd rawat inap",
    ),
    ServiceRow(
        "cek-kesehatan-gratis",
        "Cek Kesehatan Gratis",
        "Free health screening",
        "kesehatan",
        "national",
        "kemenkes",
        "ckg cek kesehatan gratis",
    ),
    ServiceRow(
        "makan-bergizi-gratis",
        "Makan Bergizi Gratis",
        "Free nutritious meals",
        "kesehatan",
        "national",
        "bgn",
        "mbg makan bergizi sppg",
    ),
    # Education: primary and lower secondary by the regency, upper secondary by the province.
    ServiceRow(
        "spmb-sd-smp",
        "SPMB SD dan SMP",
        "School admission (primary, lower secondary)",
        "pendidikan",
        "regency",
        "",
        "spmb ppdb zonasi domisili sd smp",
    ),
    ServiceRow(
        "spmb-sma-smk",
        "SPMB SMA, SMK dan SLB",
        "School admission (upper secondary)",
        "pendidikan",
        "province",
        "",
        "spmb ppdb sma smk slb",
    ),
    ServiceRow(
        "sekolah-negeri",
        "Layanan Sekolah Negeri",
        "Public schools",
        "pendidikan",
        "regency",
        "",
        "sekolah guru pungutan seragam ijazah",
    ),
    ServiceRow(
        "pip",
        "Program Indonesia Pintar (PIP)",
        "Smart Indonesia Programme (PIP)",
        "pendidikan",
        "national",
        "kemendikdasmen",
        "pip kip beasiswa",
    ),
    ServiceRow(
        "dana-bos",
        "Dana BOS",
        "School operational grants (BOS)",
        "pendidikan",
        "national",
        "kemendikdasmen",
        "bos dana sekolah",
    ),
    # Permits.
    ServiceRow(
        "oss",
        "Perizinan Berusaha (OSS RBA) dan NIB",
        "Business licensing (OSS RBA)",
        "perizinan",
        "regency",
        "",
        "oss nib izin usaha dpmptsp",
    ),
    ServiceRow(
        "pbg",
        "Persetujuan Bangunan Gedung (PBG)",
        "Building approval (PBG)",
        "perizinan",
        "regency",
        "",
        "pbg imb bangunan",
    ),
    # Police.
    ServiceRow(
        "sim",
        "Surat Izin Mengemudi (SIM)",
        "Driving licence (SIM)",
        "kepolisian",
        "national",
        "polri.korlantas",
        "sim ujian praktik satpas",
    ),
    ServiceRow(
        "stnk-bpkb",
        "STNK dan BPKB",
        "Vehicle registration (STNK, BPKB)",
        "kepolisian",
        "national",
        "polri.korlantas",
        "stnk bpkb samsat plat nomor",
    ),
    ServiceRow(
        "skck",
        "Surat Keterangan Catatan Kepolisian (SKCK)",
        "Police clearance (SKCK)",
        "kepolisian",
        "national",
        "polri",
        "skck catatan kepolisian",
    ),
    # Immigration, taxes, land, religion, employment.
    ServiceRow(
        "paspor",
        "Paspor",
        "Passport",
        "keimigrasian",
        "national",
        "kemenimipas.imigrasi",
        "paspor imigrasi antrean m-paspor",
    ),
    ServiceRow(
        "pajak-pusat",
        "Pajak Pusat (NPWP, Coretax, SPT)",
        "National taxes (NPWP, Coretax)",
        "perpajakan",
        "national",
        "kemenkeu.pajak",
        "pajak npwp coretax spt djp",
    ),
    ServiceRow(
        "pbb-p2",
        "Pajak Bumi dan Bangunan (PBB-P2)",
        "Land and building tax (PBB-P2)",
        "perpajakan",
        "regency",
        "",
        "pbb sppt bapenda",
    ),
    ServiceRow(
        "pajak-kendaraan",
        "Pajak Kendaraan Bermotor",
        "Motor vehicle tax",
        "perpajakan",
        "province",
        "",
        "pajak kendaraan pkb samsat",
    ),
    ServiceRow(
        "sertifikat-tanah",
        "Sertifikat Tanah",
        "Land certificates",
        "pertanahan",
        "national",
        "atr-bpn",
        "sertifikat tanah bpn ptsl ukur",
    ),
    ServiceRow(
        "nikah-kua",
        "Pencatatan Nikah (KUA)",
        "Marriage registration (KUA)",
        "keagamaan",
        "national",
        "kemenag.bimas-islam",
        "nikah kua buku nikah",
    ),
    ServiceRow(
        "haji-umrah",
        "Haji dan Umrah",
        "Hajj and Umrah",
        "keagamaan",
        "national",
        "kemenag",
        "haji umrah porsi",
    ),
    ServiceRow(
        "bpjs-ketenagakerjaan",
        "BPJS Ketenagakerjaan (JHT, JKK, JKP)",
        "Employment social security",
        "ketenagakerjaan",
        "national",
        "bpjs-ketenagakerjaan",
        "jht bpjs ketenagakerjaan klaim pensiun",
    ),
    ServiceRow(
        "hubungan-industrial",
        "Hubungan Industrial dan Upah",
        "Industrial relations and wages",
        "ketenagakerjaan",
        "regency",
        "",
        "upah phk pesangon disnaker",
    ),
    # Infrastructure and environment, by the level that owns the asset.
    ServiceRow(
        "jalan-kabupaten",
        "Jalan Kabupaten/Kota",
        "Regency and city roads",
        "infrastruktur",
        "regency",
        "",
        "jalan rusak berlubang aspal dinas pupr",
    ),
    ServiceRow(
        "jalan-provinsi",
        "Jalan Provinsi",
        "Provincial roads",
        "infrastruktur",
        "province",
        "",
        "jalan provinsi rusak longsor",
    ),
    ServiceRow(
        "jalan-nasional",
        "Jalan Nasional",
        "National roads",
        "infrastruktur",
        "national",
        "kemenpu",
        "jalan nasional bbpjn jembatan",
    ),
    ServiceRow(
        "penerangan-jalan",
        "Penerangan Jalan Umum",
        "Street lighting",
        "infrastruktur",
        "regency",
        "",
        "lampu jalan pju mati gelap",
    ),
    ServiceRow(
        "air-minum",
        "Air Minum (PDAM)",
        "Drinking water (PDAM)",
        "infrastruktur",
        "regency",
        "",
        "pdam air keruh mati tagihan",
    ),
    ServiceRow(
        "persampahan",
        "Persampahan",
        "Waste collection",
        "infrastruktur",
        "regency",
        "",
        "sampah tps bau menumpuk",
    ),
    ServiceRow(
        "drainase-banjir",
        "Drainase dan Banjir",
        "Drainage and flooding",
        "infrastruktur",
        "regency",
        "",
        "banjir selokan drainase genangan",
    ),
    ServiceRow(
        "pelayanan-lainnya",
        "Pelayanan Publik Lainnya",
        "Other public services",
        "lainnya",
        "regency",
        "",
        "pelayanan petugas kantor",
    ),
)

# Reply templates every agency may use (agency-specific ones are added by agencies).
REPLY_TEMPLATES: tuple[tuple[str, str], ...] = (
    (
        "Sedang ditindaklanjuti",
        "Terima kasih atas laporan Anda. Laporan sedang kami tindak lanjuti dan kami akan "
        "menyampaikan perkembangannya melalui kanal ini.",
    ),
    (
        "Mohon data tambahan",
        "Terima kasih. Untuk menindaklanjuti laporan ini kami memerlukan keterangan tambahan: "
        "lokasi yang lebih rinci, waktu kejadian, dan nomor layanan bila ada.",
    ),
    (
        "Selesai ditangani",
        "Laporan Anda telah selesai kami tangani. Silakan beri penilaian atau balas bila "
        "masalah masih terjadi.",
    ),
)
