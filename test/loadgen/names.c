/* names.c - a modest list of given and family names from many cultures, in UTF-8 */
#include "names.h"

/*
 * Our own selection.  A few are written in their own script and a few carry
 * apostrophes, hyphens and diacritics, so the data exercises JSON and SQL
 * quoting as real people's names do.
 */
const char *const first_names[] = {
	/* English-speaking countries */
	"James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "William", "Linda",
	"David", "Elizabeth", "Richard", "Barbara", "Joseph", "Susan", "Thomas", "Jessica",
	"Charles", "Sarah", "Christopher", "Karen", "Mary-Kate", "Ali",
	/* Ireland, Scotland, Wales */
	"Siobhán", "Seán", "Niamh", "Aoife", "Ciarán", "Rhiannon", "Dafydd", "Eilidh",
	"Ruairí", "Caoimhe", "Zoë",
	/* France, Belgium, Quebec */
	"Amélie", "Étienne", "Chloé", "Benoît", "Hélène", "François", "Océane", "Jérôme",
	"Maëlle", "Gaëtan", "Jean-Luc", "Anne-Marie",
	/* German-speaking countries and the Netherlands */
	"Jürgen", "Jörg", "Käthe", "Günther", "Lieselotte", "Maximilian", "Sönke", "Ursula",
	"Wolfgang", "Anouk", "Daan", "Bram", "Femke", "Sanne", "Joris",
	/* the Nordic countries */
	"Søren", "Åsa", "Øystein", "Ingrid", "Sigrún", "Þórdís", "Magnus", "Linnéa",
	"Astrid", "Henrik", "Björn",
	/* Spain, Portugal, Latin America */
	"José", "María", "Sofía", "Joaquín", "Inês", "João", "Conceição", "Martín",
	"Lucía", "Ángel", "Ximena", "Guadalupe", "Rafael", "Camila", "Thiago",
	/* Italy */
	"Giulia", "Lorenzo", "Francesca", "Niccolò", "Chiara", "Matteo", "Beatrice", "Giacomo",
	/* Central and Eastern Europe, the Baltics, the Balkans */
	"Łukasz", "Małgorzata", "Wojciech", "Zofia", "Jiří", "Tereza", "Dušan", "Ivana",
	"Zoltán", "Erzsébet", "Gintarė", "Kęstutis", "Mihai", "Ioana", "Miloš",
	"Иван", "Ольга", "Dmitri", "Natalia", "Oleksandr", "Kateryna", "Сергей", "Анастасия",
	/* Greece, Turkey */
	"Nikos", "Eleni", "Dimitris", "Αθηνά", "Mehmet", "Ayşe", "Gülşen", "Çağrı",
	/* the Middle East and North Africa */
	"Mohammed", "Fatima", "Omar", "Layla", "Youssef", "Nour", "محمد", "Darius",
	"Shirin", "Yael", "Avraham", "Noa",
	/* Sub-Saharan Africa */
	"Chinedu", "Ngozi", "Kwame", "Ama", "Oluwaseun", "Thandiwe", "Sipho", "Wanjiru",
	"Abebe", "Amina", "Kofi", "Zanele", "Tendai", "Fatoumata",
	/* South Asia */
	"Priya", "Arjun", "Ananya", "Rohan", "Lakshmi", "Vikram", "Deepika", "Sanjay",
	"Aditi", "Rahul", "प्रिया", "Farhan", "Nasrin", "Tharindu",
	/* East Asia */
	"Wei", "Xiu Ying", "Jun", "Mei", "Hiroshi", "Yuki", "Haruto", "Sakura",
	"翔太", "美咲", "Min-jun", "Seo-yeon", "Ji-ho", "지우", "伟",
	/* Southeast Asia */
	"Minh", "Thảo", "Anh", "Somchai", "Siriporn", "Putu", "Dewi", "Rizal",
	"Maricel", "Jomar", "Linh", "Bảo",
	/* the Pacific and the Americas' first peoples */
	"Aroha", "Tāne", "Keala", "Kalani", "Sione", "Losaline", "Nayeli", "Wikitoria",
};
const size_t n_first_names = sizeof(first_names) / sizeof(first_names[0]);

const char *const last_names[] = {
	/* English-speaking countries */
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
	"Anderson", "Taylor", "Thomas", "Moore", "Jackson", "White", "Harris", "Clarke",
	/* Ireland, Scotland */
	"O'Brien", "O'Connor", "McCarthy", "Ó Súilleabháin", "MacLeod", "Fitzgerald",
	"Ní Bhriain", "Gallagher",
	/* France, Quebec */
	"Dubois", "Lefèvre", "Moreau", "Girard", "Rousseau", "Bélanger", "Côté", "Lévesque",
	"D'Amboise", "Fournier",
	/* German-speaking countries and the Netherlands */
	"Müller", "Schmidt", "Schäfer", "Weiß", "Krüger", "Groß", "Hoffmann", "Köhler",
	"Zimmermann", "Bäcker", "van der Berg", "de Vries", "Jansen", "van Dijk", "Bakker",
	"de Jong",
	/* the Nordic countries */
	"Jørgensen", "Håkansson", "Lindqvist", "Ødegård", "Sigurðsson", "Jóhannsdóttir",
	"Nieminen", "Mäkinen", "Virtanen", "Ahlström",
	/* Spain, Portugal, Latin America */
	"García", "Rodríguez", "Martínez", "Hernández", "López", "González", "Pérez",
	"Sánchez", "Fernández", "Gonçalves", "Araújo", "Magalhães", "Peña", "Muñoz",
	"Ibáñez", "Castañeda", "da Silva",
	/* Italy */
	"Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "D'Angelo",
	"Ricci", "Marino",
	/* Central and Eastern Europe, the Baltics, the Balkans */
	"Kowalski", "Wiśniewska", "Wójcik", "Dąbrowski", "Nowak", "Lewandowski", "Novák",
	"Dvořák", "Černá", "Horváth", "Nagy", "Kovačević", "Petrović", "Jovanović",
	"Popescu", "Ionescu", "Kazlauskas", "Bērziņš",
	"Ivanov", "Smirnova", "Kuznetsov", "Popova", "Шевченко", "Коваленко", "Бондаренко",
	"Petrenko",
	/* Greece, Turkey, the Caucasus */
	"Papadopoulos", "Παπαδάκης", "Georgiou", "Yılmaz", "Kaya", "Demir", "Şahin", "Çelik",
	"Öztürk", "Hovhannisyan", "Sargsyan", "Beridze", "Kapanadze",
	/* the Middle East */
	"Al-Sayed", "Haddad", "Khalil", "Mansour", "Abdullah", "El-Amin", "Hosseini",
	"Tehrani", "Rahimi", "Cohen", "Levi", "Mizrahi", "Friedman", "Ben-David", "الحسن",
	/* Sub-Saharan Africa */
	"Okafor", "Adeyemi", "Mensah", "Boateng", "Nkosi", "Dlamini", "Mwangi", "Ochieng",
	"Tesfaye", "Haile", "Diallo", "Traoré", "Keïta", "Ndiaye", "Mutasa", "Banda",
	/* South Asia */
	"Patel", "Sharma", "Gupta", "Reddy", "Iyer", "Chatterjee", "Mukherjee", "Singh",
	"Kaur", "Nair", "Menon", "Rahman", "Chowdhury", "Perera", "Fernando", "Bhattarai",
	"शर्मा",
	/* East Asia */
	"Wang", "Li", "Zhang", "Liu", "Chen", "王", "李", "Satō", "Suzuki", "Takahashi",
	"Tanaka", "渡辺", "Kim", "Lee", "Park", "최", "Jeong",
	/* Southeast Asia */
	"Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Võ", "Đặng", "Srisuk", "Wongsawat",
	"Santos", "Reyes", "dela Cruz", "Bautista", "Wijaya", "Siregar", "Tan", "Lim",
	/* the Pacific */
	"Ngata", "Te Whata", "Kahananui", "Fonoti", "Tupou",
};
const size_t n_last_names = sizeof(last_names) / sizeof(last_names[0]);
